package smart

import (
	"encoding/json"
	"log/slog"
	"net/http"
)

// JWKSHandler serves the public signing keys as a JWK Set (RFC 7517), for
// the EHR to fetch from the JWKS URL registered with it. It holds no
// private material and needs no authentication; mount it at
// /.well-known/jwks.json. Log may be nil.
func JWKSHandler(k *Keys, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		set, err := k.JWKS(r.Context())
		if err != nil {
			if log != nil {
				log.Error("smart: JWKS not served", "err", err.Error())
			}
			http.Error(w, "keys unavailable", http.StatusServiceUnavailable)
			return
		}
		b, err := json.Marshal(set)
		if err != nil {
			http.Error(w, "keys unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		// Short caching: a rotation shows within minutes, while the
		// replaced key stays published far longer than that.
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(b)
	})
}
