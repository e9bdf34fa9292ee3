package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// JWKSOptions bound how a key set is fetched and kept fresh.
type JWKSOptions struct {
	// Refresh is the longest a fetched key set is used before it is fetched
	// again (Run does it on schedule), so a key the endpoint stops listing
	// is refused within Refresh. The endpoint's Cache-Control max-age or
	// Expires shortens it, never lengthens it. Default 5m.
	Refresh time.Duration
	// MinInterval spaces fetches: an unknown kid or a failed fetch starts at
	// most one fetch per MinInterval, so tokens with random kids cannot make
	// obsplane hammer the endpoint. Default 10s.
	MinInterval time.Duration
	// FetchTimeout bounds one fetch. Default 10s.
	FetchTimeout time.Duration
	// Wait is the longest a request waits for a fetch it needs (no key set
	// yet, or a kid the current set lacks). A request whose key is in the
	// current set never waits: fetches run beside requests, never in front
	// of them. Default 2s.
	Wait time.Duration
	// Client fetches the set (nil: a client with FetchTimeout).
	Client *http.Client
	// Log gets fetch failures (nil: slog.Default()).
	Log *slog.Logger
	// Registerer gets the obsplane_jwks_* metrics (nil: none).
	Registerer prometheus.Registerer
}

func (o *JWKSOptions) defaults() {
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Minute
	}
	if o.MinInterval <= 0 {
		o.MinInterval = 10 * time.Second
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = 10 * time.Second
	}
	if o.Wait <= 0 {
		o.Wait = 2 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.FetchTimeout}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
}

// keySet is one fetched JWKS; it is never modified after it is published.
type keySet struct {
	keys    map[string]any // kid -> *rsa.PublicKey | *ecdsa.PublicKey
	expires time.Time      // when it is due to be fetched again
}

// lookup finds kid; a token without kid matches a set of exactly one key.
func (s *keySet) lookup(kid string) (any, bool) {
	if kid == "" && len(s.keys) == 1 {
		for _, v := range s.keys {
			return v, true
		}
	}
	v, ok := s.keys[kid]
	return v, ok
}

// JWKS is a JSON Web Key Set fetched from a URL. Readers use the current set
// without a lock; a fetch runs in its own goroutine (one at a time, joined
// by whoever needs it) and publishes a whole new set when it succeeds, so a
// slow or failing endpoint delays only requests that cannot be answered
// without it, and those by at most Wait. A failed fetch keeps the last good
// set.
type JWKS struct {
	url  string
	opts JWKSOptions
	cur  atomic.Pointer[keySet]
	now  func() time.Time

	mu       sync.Mutex
	inflight chan struct{} // closed when the running fetch ends
	lastTry  time.Time
	lastErr  error

	fetches *prometheus.CounterVec
	nkeys   prometheus.Gauge
}

// NewJWKS returns a key set read from url. Call Run to refresh it on
// schedule; without Run it is refreshed only when a request finds it due or
// lacking a kid.
func NewJWKS(url string, o JWKSOptions) *JWKS {
	o.defaults()
	k := &JWKS{url: url, opts: o, now: time.Now,
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "obsplane_jwks_fetches_total",
			Help: "JWKS fetches by result (ok, error)."}, []string{"result"}),
		nkeys: prometheus.NewGauge(prometheus.GaugeOpts{Name: "obsplane_jwks_keys",
			Help: "Signing keys in the JWKS in use."}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(k.fetches, k.nkeys)
	}
	return k
}

// StaticJWKS is a key set that never fetches.
func StaticJWKS(keys map[string]any) *JWKS {
	k := NewJWKS("", JWKSOptions{})
	k.cur.Store(&keySet{keys: keys, expires: time.Now().Add(100 * 365 * 24 * time.Hour)})
	return k
}

// Keyfunc returns the jwt.Keyfunc that picks a key by the token's kid and
// checks that the key type fits the algorithm.
func (k *JWKS) Keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		key, err := k.key(ctx, kid)
		if err != nil {
			return nil, err
		}
		switch t.Method.Alg() {
		case "RS256":
			if _, ok := key.(*rsa.PublicKey); !ok {
				return nil, errors.New("key " + kid + " is not an RSA key")
			}
		case "ES256":
			if _, ok := key.(*ecdsa.PublicKey); !ok {
				return nil, errors.New("key " + kid + " is not an EC key")
			}
		}
		return key, nil
	}
}

func (k *JWKS) key(ctx context.Context, kid string) (any, error) {
	if set := k.cur.Load(); set != nil {
		if key, ok := set.lookup(kid); ok {
			if k.url != "" && k.now().After(set.expires) {
				k.start() // due: refresh beside this request, not before it
			}
			return key, nil
		}
	}
	if k.url == "" {
		return nil, fmt.Errorf("no key %q in the JWKS", truncKid(kid))
	}
	done := k.start()
	if done == nil {
		// A fetch ran less than MinInterval ago: answer from what it got.
		if set := k.cur.Load(); set == nil {
			return nil, fmt.Errorf("JWKS not available: %v", k.err())
		}
		return nil, fmt.Errorf("no key %q in the JWKS", truncKid(kid))
	}
	t := time.NewTimer(k.opts.Wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		return nil, fmt.Errorf("JWKS endpoint did not answer within %s", k.opts.Wait)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	set := k.cur.Load()
	if set == nil {
		return nil, fmt.Errorf("JWKS not available: %v", k.err())
	}
	if key, ok := set.lookup(kid); ok {
		return key, nil
	}
	return nil, fmt.Errorf("no key %q in the JWKS", truncKid(kid))
}

func truncKid(kid string) string {
	if len(kid) > 64 {
		return kid[:64] + "..."
	}
	return kid
}

func (k *JWKS) err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.lastErr == nil {
		return errors.New("not fetched yet")
	}
	return k.lastErr
}

// start begins a fetch unless one is running (then it returns that one's
// channel) or the last began less than MinInterval ago (then nil). The
// channel is closed when the fetch has ended and its set, if any, is
// published.
func (k *JWKS) start() <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.inflight != nil {
		return k.inflight
	}
	now := k.now()
	if !k.lastTry.IsZero() && now.Sub(k.lastTry) < k.opts.MinInterval {
		return nil
	}
	k.lastTry = now
	done := make(chan struct{})
	k.inflight = done
	go func() {
		set, err := k.fetch()
		if err == nil {
			k.cur.Store(set)
			k.nkeys.Set(float64(len(set.keys)))
			k.fetches.WithLabelValues("ok").Inc()
		} else {
			k.fetches.WithLabelValues("error").Inc()
			k.opts.Log.Warn("JWKS fetch failed; the last key set stays in use", "url", k.url, "err", err)
		}
		k.mu.Lock()
		k.inflight, k.lastErr = nil, err
		k.mu.Unlock()
		close(done)
	}()
	return done
}

// Run fetches the key set now and again whenever it is due (Refresh, or
// sooner when the endpoint's cache headers say so; MinInterval after a
// failure), until ctx ends.
func (k *JWKS) Run(ctx context.Context) error {
	if k.url == "" {
		<-ctx.Done()
		return nil
	}
	for {
		k.mu.Lock()
		next := k.lastTry.Add(k.opts.MinInterval)
		if k.lastTry.IsZero() {
			next = k.now()
		}
		k.mu.Unlock()
		if set := k.cur.Load(); set != nil && set.expires.After(next) {
			next = set.expires
		}
		t := time.NewTimer(max(next.Sub(k.now()), 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if set := k.cur.Load(); set != nil && k.now().Before(set.expires) {
			continue // a request-triggered fetch already refreshed it
		}
		if done := k.start(); done != nil {
			select {
			case <-done:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

func (k *JWKS) fetch() (*keySet, error) {
	ctx, cancel := context.WithTimeout(context.Background(), k.opts.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.opts.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", k.url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	keys, err := ParseJWKS(b)
	if err != nil {
		return nil, err
	}
	now := k.now()
	life := k.opts.Refresh
	if d, ok := cacheLifetime(resp.Header, now); ok && d < life {
		life = max(d, k.opts.MinInterval)
	}
	return &keySet{keys: keys, expires: now.Add(life)}, nil
}

// cacheLifetime is how long the response may be reused by its HTTP caching
// headers (RFC 9111): Cache-Control no-store/no-cache (0) or max-age less
// Age, else Expires less Date. ok is false when the headers say nothing.
func cacheLifetime(h http.Header, now time.Time) (time.Duration, bool) {
	if cc := h.Get("Cache-Control"); cc != "" {
		for _, d := range strings.Split(cc, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return 0, true
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
				if err != nil || n < 0 {
					return 0, true // invalid: treat as stale (RFC 9111 4.2.1)
				}
				age, _ := strconv.ParseInt(h.Get("Age"), 10, 64)
				return time.Duration(max(min(n, 1<<31)-max(age, 0), 0)) * time.Second, true
			}
		}
	}
	if e := h.Get("Expires"); e != "" {
		exp, err := http.ParseTime(e)
		if err != nil {
			return 0, true
		}
		base := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			base = d
		}
		return max(exp.Sub(base), 0), true
	}
	return 0, false
}

// ParseJWKS reads the RSA and P-256 EC signing keys of a JWKS document;
// other keys are skipped.
func ParseJWKS(b []byte) (map[string]any, error) {
	var doc struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			N   string `json:"n"`
			E   string `json:"e"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("JWKS is not JSON: %w", err)
	}
	out := map[string]any{}
	for _, jk := range doc.Keys {
		if jk.Use != "" && jk.Use != "sig" {
			continue
		}
		switch jk.Kty {
		case "RSA":
			n, err1 := b64int(jk.N)
			e, err2 := b64int(jk.E)
			if err1 != nil || err2 != nil || !e.IsInt64() {
				continue
			}
			out[jk.Kid] = &rsa.PublicKey{N: n, E: int(e.Int64())}
		case "EC":
			if jk.Crv != "P-256" {
				continue
			}
			x, err1 := b64int(jk.X)
			y, err2 := b64int(jk.Y)
			if err1 != nil || err2 != nil {
				continue
			}
			out[jk.Kid] = &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("JWKS has no usable RSA or P-256 signing key")
	}
	return out, nil
}

func b64int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, err
	}
	return new(big.Int).SetBytes(b), nil
}
