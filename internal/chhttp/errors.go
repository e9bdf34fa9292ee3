package chhttp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/openchoreo/obsplane/internal/store"
)

// ClickHouse exception codes the interface raises itself or maps to HTTP
// statuses (the engine raises the rest). Numbers and names are ClickHouse's,
// as errorCodeToName() in the engine returns them.
const (
	codeUnsupportedMethod     = 1
	codeCannotParseText       = 6
	codeBadArguments          = 36
	codeChecksumDoesntMatch   = 40
	codeNotImplemented        = 48
	codeSyntaxError           = 62
	codeUnknownFormat         = 73
	codeUnknownDatabase       = 81
	codeUnknownCompression    = 89
	codeTimeoutExceeded       = 159
	codeReadonly              = 164
	codeTooManyQueries        = 202
	codeSocketTimeout         = 209
	codeQueryIDRunning        = 216
	codeQueryIsTooLarge       = 229
	codeCannotDecompress      = 271
	codeZlibInflateFailed     = 354
	codeIntoOutfileNotAllowed = 358
	codeSessionNotFound       = 372
	codeSessionIsLocked       = 373
	codeInvalidSessionTimeout = 374
	codeHTTPLengthRequired    = 381
	codeQueryWasCancelled     = 394
	codeBrotliReadFailed      = 448
	codeAuthenticationFailed  = 516
	codeZstdDecoderFailed     = 561
	codeLZ4DecoderFailed      = 618
	codeUnknownException      = 1002
)

var codeNames = map[int]string{
	codeUnsupportedMethod:     "UNSUPPORTED_METHOD",
	codeCannotParseText:       "CANNOT_PARSE_TEXT",
	codeBadArguments:          "BAD_ARGUMENTS",
	codeChecksumDoesntMatch:   "CHECKSUM_DOESNT_MATCH",
	codeNotImplemented:        "NOT_IMPLEMENTED",
	codeSyntaxError:           "SYNTAX_ERROR",
	codeUnknownFormat:         "UNKNOWN_FORMAT",
	codeUnknownDatabase:       "UNKNOWN_DATABASE",
	codeUnknownCompression:    "UNKNOWN_COMPRESSION_METHOD",
	codeTimeoutExceeded:       "TIMEOUT_EXCEEDED",
	codeReadonly:              "READONLY",
	codeTooManyQueries:        "TOO_MANY_SIMULTANEOUS_QUERIES",
	codeSocketTimeout:         "SOCKET_TIMEOUT",
	codeQueryIDRunning:        "QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING",
	codeQueryIsTooLarge:       "QUERY_IS_TOO_LARGE",
	codeCannotDecompress:      "CANNOT_DECOMPRESS",
	codeZlibInflateFailed:     "ZLIB_INFLATE_FAILED",
	codeIntoOutfileNotAllowed: "INTO_OUTFILE_NOT_ALLOWED",
	codeSessionNotFound:       "SESSION_NOT_FOUND",
	codeSessionIsLocked:       "SESSION_IS_LOCKED",
	codeInvalidSessionTimeout: "INVALID_SESSION_TIMEOUT",
	codeHTTPLengthRequired:    "HTTP_LENGTH_REQUIRED",
	codeQueryWasCancelled:     "QUERY_WAS_CANCELLED",
	codeBrotliReadFailed:      "BROTLI_READ_FAILED",
	codeAuthenticationFailed:  "AUTHENTICATION_FAILED",
	codeZstdDecoderFailed:     "ZSTD_DECODER_FAILED",
	codeLZ4DecoderFailed:      "LZ4_DECODER_FAILED",
	codeUnknownException:      "UNKNOWN_EXCEPTION",
}

// Exception is an error in ClickHouse's own terms: its code and text form,
// "Code: N. DB::Exception: message. (NAME) (version V)".
type Exception struct {
	Code    int
	Message string
	// status overrides the HTTP status the code maps to.
	status int
}

func (e *Exception) Error() string { return e.Message }

func exception(code int, format string, args ...any) *Exception {
	return &Exception{Code: code, Message: fmt.Sprintf(format, args...)}
}

// text renders e as ClickHouse does; engine messages already carry it.
func (e *Exception) text(version string) string {
	msg := strings.TrimSpace(e.Message)
	if !strings.HasPrefix(msg, "Code: ") {
		name := codeNames[e.Code]
		if name == "" {
			name = "UNKNOWN_EXCEPTION"
		}
		msg = fmt.Sprintf("Code: %d. DB::Exception: %s. (%s)", e.Code, strings.TrimSuffix(msg, "."), name)
	}
	if !strings.Contains(msg, "(version ") {
		msg += " (version " + version + ")"
	}
	return msg
}

// asException turns any error into an Exception: the engine's errors keep
// their code, a context ended by the client is QUERY_WAS_CANCELLED.
func asException(err error) *Exception {
	var e *Exception
	if errors.As(err, &e) {
		return e
	}
	var se *store.Error
	if errors.As(err, &se) {
		return &Exception{Code: se.Code, Message: se.Message}
	}
	return &Exception{Code: codeUnknownException, Message: err.Error()}
}

// httpStatus maps an exception code to its HTTP status: ClickHouse's own
// table, plus codes that only a client's request causes (a read-only user
// writing, a session in use, a corrupt or oversized body, a slow client),
// which ClickHouse answers with 500 and obsplane with the 4xx they are.
func httpStatus(e *Exception) int {
	if e.status != 0 {
		return e.status
	}
	switch e.Code {
	case 194: // REQUIRED_PASSWORD
		return http.StatusUnauthorized
	case 192, 193, codeAuthenticationFailed, 497, 512: // UNKNOWN_USER, WRONG_PASSWORD, ACCESS_DENIED, SET_NON_GRANTED_ROLE
		return http.StatusForbidden
	case codeBadArguments, 427, codeCannotParseText, 25, 26, 38, 41, 72, 441, 675, 676, 27, 376, 15, 44, 37, 123, 8,
		167, 168, 223, codeSyntaxError, 117, 53, 321:
		// BAD_ARGUMENTS, CANNOT_COMPILE_REGEXP, CANNOT_PARSE_*, DUPLICATE_COLUMN, ILLEGAL_COLUMN,
		// UNKNOWN_ELEMENT_IN_AST, UNKNOWN_TYPE_OF_AST_NODE, THERE_IS_NO_COLUMN, TOO_DEEP_AST,
		// TOO_BIG_AST, UNEXPECTED_AST_STRUCTURE, SYNTAX_ERROR, INCORRECT_DATA, TYPE_MISMATCH,
		// VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
		return http.StatusBadRequest
	case 60, 46, 47, 50, 56, codeUnknownDatabase, 115, 152, 63, codeUnknownFormat, 336, 78, 511:
		// UNKNOWN_TABLE, UNKNOWN_FUNCTION, UNKNOWN_IDENTIFIER, UNKNOWN_TYPE, UNKNOWN_STORAGE,
		// UNKNOWN_DATABASE, UNKNOWN_SETTING, UNKNOWN_DIRECTION_OF_SORTING,
		// UNKNOWN_AGGREGATE_FUNCTION, UNKNOWN_FORMAT, UNKNOWN_DATABASE_ENGINE,
		// UNKNOWN_TYPE_OF_QUERY, UNKNOWN_ROLE
		return http.StatusNotFound
	case codeQueryIsTooLarge:
		return http.StatusRequestEntityTooLarge
	case codeNotImplemented:
		return http.StatusNotImplemented
	case 76, 439: // CANNOT_OPEN_FILE, CANNOT_SCHEDULE_TASK
		return http.StatusServiceUnavailable
	case codeHTTPLengthRequired:
		return http.StatusLengthRequired
	case codeTimeoutExceeded:
		return http.StatusRequestTimeout
	case 415: // UNSUPPORTED_MEDIA_TYPE
		return http.StatusUnsupportedMediaType
	// Codes only a client's request causes, which ClickHouse leaves at 500.
	case codeReadonly, codeIntoOutfileNotAllowed:
		return http.StatusForbidden
	case codeSessionNotFound:
		return http.StatusNotFound
	case codeSessionIsLocked, codeQueryIDRunning:
		return http.StatusConflict
	case codeSocketTimeout: // a client too slow to send its body (ClickHouse: 503)
		return http.StatusRequestTimeout
	case codeInvalidSessionTimeout, codeCannotDecompress, codeChecksumDoesntMatch, codeZlibInflateFailed,
		codeBrotliReadFailed, codeZstdDecoderFailed, codeLZ4DecoderFailed, codeUnknownCompression,
		554, 594, 638, 456, 457: // LZMA/BZIP2/SNAPPY decoders, UNKNOWN_QUERY_PARAMETER, BAD_QUERY_PARAMETER
		return http.StatusBadRequest
	case codeTooManyQueries:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
