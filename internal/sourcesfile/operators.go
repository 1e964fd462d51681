package sourcesfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"github.com/tradewind/tradewind/adapters/httpapi"
)

// The dashboard's named operators live in the sources file, beside the sources:
//
//	operators:
//	  - name: alice
//	    password_hash: "$2a$10$..."        # bcrypt; or env:ALICE_HASH
//
// A password is never configured in the clear. Make a hash with
// `htpasswd -bnBC 10 "" 'the password' | tr -d ':'`. The API token still signs
// in to the dashboard too, as "api-token".

type operatorsFile struct {
	Operators []struct {
		Name         string `yaml:"name"`
		PasswordHash string `yaml:"password_hash"`
	} `yaml:"operators"`
}

// LoadOperators reads the operators: section of the sources file at path. A file
// that does not exist has none (runRoles has already refused a missing sources
// file; a Main built in a test may have no file).
func LoadOperators(path string, getenv func(string) (string, bool)) ([]httpapi.Operator, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sources file: %w", err)
	}
	return ParseOperators(path, raw, getenv)
}

// ParseOperators parses the operators: section of a sources file's bytes.
func ParseOperators(path string, raw []byte, getenv func(string) (string, bool)) ([]httpapi.Operator, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("sources file %s: operators: "+format, append([]any{path}, args...)...)
	}
	var f operatorsFile
	if err := yaml.NewDecoder(bytes.NewReader(raw)).Decode(&f); err != nil {
		return nil, fmt.Errorf("sources file %s: %v", path, err)
	}
	var out []httpapi.Operator
	seen := map[string]bool{}
	for i, o := range f.Operators {
		hash := o.PasswordHash
		if name, ok := strings.CutPrefix(hash, "env:"); ok {
			hash, _ = getenv(name)
			if hash == "" {
				return nil, fail("%s: password_hash names environment variable %s, which is not set", o.Name, name)
			}
		}
		switch {
		case o.Name == "":
			return nil, fail("entry %d: name is required", i+1)
		case seen[o.Name]:
			return nil, fail("%s is listed twice", o.Name)
		case hash == "":
			return nil, fail("%s: password_hash is required (a bcrypt hash: htpasswd -bnBC 10 \"\" 'password' | tr -d ':')", o.Name)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fail("%s: password_hash is not a bcrypt hash ($2a$10$…); make one with htpasswd -bnBC 10 \"\" 'password' | tr -d ':'", o.Name)
		}
		seen[o.Name] = true
		out = append(out, httpapi.Operator{Name: o.Name, PasswordHash: hash})
	}
	return out, nil
}
