package main

import (
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/tradewind/tradewind/adapters/httpapi"
)

// parseOperators reads TRADEWIND_OPERATORS: "name:hash,name:hash", each hash a
// bcrypt hash (bcrypt's alphabet has neither ':' nor ','). A password is never
// configured in the clear.
func parseOperators(spec string) ([]httpapi.Operator, error) {
	var out []httpapi.Operator
	seen := map[string]bool{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, hash, ok := strings.Cut(part, ":")
		if !ok || name == "" || hash == "" {
			return nil, &ConfigError{Key: "TRADEWIND_OPERATORS", Problem: "has an entry that is not name:bcrypt-hash",
				Valid: "name:bcrypt-hash pairs, comma-separated (make a hash with: htpasswd -bnBC 10 '' 'password' | tr -d ':')"}
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, &ConfigError{Key: "TRADEWIND_OPERATORS", Problem: "names " + name + " with a password hash that is not bcrypt",
				Valid: "a bcrypt hash such as $2a$10$… (htpasswd -bnBC 10 '' 'password' | tr -d ':')"}
		}
		if seen[name] {
			return nil, &ConfigError{Key: "TRADEWIND_OPERATORS", Problem: "names " + name + " twice", Valid: "each operator once"}
		}
		seen[name] = true
		out = append(out, httpapi.Operator{Name: name, PasswordHash: hash})
	}
	return out, nil
}
