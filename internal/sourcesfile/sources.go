package sourcesfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/go-playground/validator/v10"
	"gopkg.in/yaml.v3"

	"github.com/tradewind/tradewind/adapters/httpapi"
	"github.com/tradewind/tradewind/adapters/registry"
	"github.com/tradewind/tradewind/domain"
	"github.com/tradewind/tradewind/jobs"
)

// sourcesFile is the YAML sources file. Keys of an entry other than id, provider
// and secrets are the provider's settings.
type sourcesFile struct {
	Sources []sourceEntry `yaml:"sources" validate:"required,min=1,dive"`
}

type sourceEntry struct {
	ID       string         `yaml:"id" validate:"required,sourceid"`
	Provider string         `yaml:"provider" validate:"required"`
	Secrets  []string       `yaml:"secrets"`
	Settings map[string]any `yaml:",inline"`
}

var sourceIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// LoadSources reads and validates a sources file. Errors name the file, the entry
// and the offending key. Secrets written "env:NAME" are read from the environment.
func LoadSources(path string, getenv func(string) (string, bool)) (domain.Sources, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sources file: %w (set TRADEWIND_SOURCES_FILE to an existing file)", err)
	}
	return ParseSources(path, raw, getenv)
}

// ParseSources parses the bytes of a sources file named path.
func ParseSources(path string, raw []byte, getenv func(string) (string, bool)) (domain.Sources, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("sources file %s: "+format, append([]any{path}, args...)...)
	}
	var f sourcesFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&f); err != nil {
		return nil, fail("%v", err)
	}
	v := validator.New()
	_ = v.RegisterValidation("sourceid", func(fl validator.FieldLevel) bool { return sourceIDPattern.MatchString(fl.Field().String()) })
	if err := v.Struct(f); err != nil {
		var verrs validator.ValidationErrors
		if errors.As(err, &verrs) {
			fe := verrs[0]
			key := strings.ToLower(strings.TrimPrefix(fe.Namespace(), "sourcesFile."))
			switch fe.Tag() {
			case "sourceid":
				return nil, fail("%s: %q is not a valid source id; use 1-64 lower-case letters, digits, '-' or '_'", key, fe.Value())
			case "min", "required":
				if key == "sources" {
					return nil, fail("sources: list at least one source (id, provider, secrets)")
				}
				return nil, fail("%s: required", key)
			}
			return nil, fail("%s: invalid (%s)", key, fe.Tag())
		}
		return nil, fail("%v", err)
	}

	out := make(domain.Sources, len(f.Sources))
	for i, e := range f.Sources {
		at := fmt.Sprintf("sources[%d] (%s)", i, e.ID)
		if _, dup := out[e.ID]; dup {
			return nil, fail("%s: id %q is used twice; each source needs its own id", at, e.ID)
		}
		a, ok := registry.Lookup(e.Provider)
		if !ok {
			return nil, fail("%s: provider %q is not supported; use one of: %s", at, e.Provider, strings.Join(registry.Kinds(), ", "))
		}
		src := domain.Source{ID: e.ID, Provider: e.Provider, Settings: map[string]string{}}
		for j, s := range e.Secrets {
			if name, ok := strings.CutPrefix(s, "env:"); ok {
				val, set := getenv(name)
				if !set || val == "" {
					return nil, fail("%s: secrets[%d]: environment variable %s is not set", at, j, name)
				}
				s = val
			}
			src.Secrets = append(src.Secrets, s)
		}
		for k, val := range e.Settings {
			switch v := val.(type) {
			case string:
				if name, ok := strings.CutPrefix(v, "env:"); ok {
					env, set := getenv(name)
					if !set || env == "" {
						return nil, fail("%s: %s: environment variable %s is not set", at, k, name)
					}
					v = env
				}
				src.Settings[k] = v
			case int, int64, float64, bool:
				src.Settings[k] = fmt.Sprint(v)
			default:
				return nil, fail("%s: %s: must be a single value (string, number or boolean)", at, k)
			}
		}
		if err := a.CheckSource(src); err != nil {
			return nil, fail("%s: %s", at, domain.ErrorMessage(err))
		}
		if err := httpapi.CheckRateLimits(src); err != nil {
			return nil, fail("%s: %s", at, domain.ErrorMessage(err))
		}
		if _, err := jobs.ConfirmRateLimit(src); err != nil {
			return nil, fail("%s: %s", at, domain.ErrorMessage(err))
		}
		out[e.ID] = src
	}
	return out, nil
}
