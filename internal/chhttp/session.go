package chhttp

import (
	"sync"
	"time"

	"github.com/openchoreo/obsplane/internal/store/chdb"
)

// session is an HTTP session (session_id): one engine connection that keeps
// its settings, current database and temporary tables between requests.
type session struct {
	key     string
	conn    *chdb.Conn
	timeout time.Duration
	busy    bool
	last    time.Time
}

// sessions holds the open sessions, closes the idle ones and bounds their
// number.
type sessions struct {
	mu   sync.Mutex
	open map[string]*session
	max  int
}

func newSessions(max int) *sessions { return &sessions{open: map[string]*session{}, max: max} }

// acquire returns the session key names, creating it unless check, and
// marks it busy; release gives it back.
func (s *sessions) acquire(key string, timeout time.Duration, check bool, open func() (*chdb.Conn, error)) (*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.open[key]; ok {
		if ss.busy {
			return nil, exception(codeSessionIsLocked, "Session %s is locked by a concurrent client", sessionName(key))
		}
		ss.busy = true
		ss.timeout = timeout
		return ss, nil
	}
	if check {
		return nil, exception(codeSessionNotFound, "Session %s not found", sessionName(key))
	}
	if len(s.open) >= s.max {
		return nil, exception(codeTooManyQueries, "Too many open sessions (%d, --clickhouse-http-max-sessions); close some with close_session=1 or wait for them to time out", s.max)
	}
	c, err := open()
	if err != nil {
		return nil, err
	}
	ss := &session{key: key, conn: c, timeout: timeout, busy: true}
	s.open[key] = ss
	return ss, nil
}

func (s *sessions) release(ss *session, close bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.busy = false
	ss.last = time.Now()
	if cur, ok := s.open[ss.key]; close || !ok || cur != ss {
		if ok && cur == ss {
			delete(s.open, ss.key)
		}
		ss.conn.Close()
	}
}

// expire closes the sessions idle past their timeout.
func (s *sessions) expire(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, ss := range s.open {
		if !ss.busy && now.Sub(ss.last) > ss.timeout {
			delete(s.open, k)
			ss.conn.Close()
		}
	}
}

// closeAll closes every idle session; busy ones close as they finish.
func (s *sessions) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, ss := range s.open {
		if !ss.busy {
			ss.conn.Close()
		}
		delete(s.open, k)
	}
	s.max = 0
}

func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.open)
}

func sessionName(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] == 0 {
			return key[i+1:]
		}
	}
	return key
}
