package envconfig_test

import (
	"errors"
	"testing"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/google/go-cmp/cmp"

	"github.com/tradewind/tradewind/internal/envconfig"
)

type config struct {
	Name    string        `env:"T_NAME" default:"tw" validate:"min=2" help:"a name"`
	Token   string        `env:"T_TOKEN" secret:"true" validate:"required,min=8" help:"a token"`
	Workers int           `env:"T_WORKERS" default:"4" validate:"min=1" help:"a count"`
	Debug   bool          `env:"T_DEBUG" help:"true or false"`
	Every   time.Duration `env:"T_EVERY" default:"15s" help:"a duration"`
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		except  []string
		want    config
		wantErr *envconfig.Error
	}{
		{name: "defaults", env: map[string]string{"T_TOKEN": "secret-1"},
			want: config{Name: "tw", Token: "secret-1", Workers: 4, Every: 15 * time.Second}},
		{name: "set wins", env: map[string]string{"T_TOKEN": "secret-1", "T_WORKERS": "9", "T_DEBUG": "true", "T_EVERY": "1m"},
			want: config{Name: "tw", Token: "secret-1", Workers: 9, Debug: true, Every: time.Minute}},
		{name: "not a number", env: map[string]string{"T_WORKERS": "many"},
			wantErr: &envconfig.Error{Key: "T_WORKERS", Problem: `is "many", not a whole number`, Valid: "a count"}},
		{name: "required", env: nil,
			wantErr: &envconfig.Error{Key: "T_TOKEN", Problem: "is not set", Valid: "a token"}},
		{name: "secret not echoed", env: map[string]string{"T_TOKEN": "short"},
			wantErr: &envconfig.Error{Key: "T_TOKEN", Problem: "is not valid", Valid: "a token"}},
		{name: "value echoed", env: map[string]string{"T_TOKEN": "secret-1", "T_NAME": "x"},
			wantErr: &envconfig.Error{Key: "T_NAME", Problem: `is "x", which is not valid`, Valid: "a name"}},
		{name: "except", env: nil, except: []string{"Token"},
			want: config{Name: "tw", Workers: 4, Every: 15 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got config
			err := envconfig.Load(&got, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }, validator.New(), tt.except...)
			if tt.wantErr != nil {
				var e *envconfig.Error
				if !errors.As(err, &e) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if diff := cmp.Diff(tt.wantErr, e); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewValidatorRules(t *testing.T) {
	type withRule struct {
		Color string `env:"T_COLOR" default:"red" validate:"color" help:"red or blue"`
	}
	v := envconfig.NewValidator(map[string]func(string) bool{"color": func(s string) bool { return s == "red" || s == "blue" }})
	tests := []struct {
		name    string
		color   string
		wantErr *envconfig.Error
	}{
		{name: "valid", color: "blue"},
		{name: "invalid", color: "green", wantErr: &envconfig.Error{Key: "T_COLOR", Problem: `is "green", which is not valid`, Valid: "red or blue"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got withRule
			err := envconfig.Load(&got, func(string) (string, bool) { return tt.color, true }, v)
			var e *envconfig.Error
			errors.As(err, &e)
			if diff := cmp.Diff(tt.wantErr, e); diff != "" || (tt.wantErr == nil && err != nil) {
				t.Errorf("error %v (-want +got):\n%s", err, diff)
			}
		})
	}
}
