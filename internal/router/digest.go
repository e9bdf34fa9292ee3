package router

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// DigestJSON identifies each item by the first 8 bytes of the SHA-256 of its
// JSON, so two stores' answers compare item by item without holding either.
// Adapters build their Result.IDs with it; an item that cannot be encoded
// gets the ID "unencodable", which never matches a real one.
func DigestJSON[T any](items []T) []string {
	ids := make([]string, 0, len(items))
	for _, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			ids = append(ids, "unencodable")
			continue
		}
		sum := sha256.Sum256(b)
		ids = append(ids, hex.EncodeToString(sum[:8]))
	}
	return ids
}
