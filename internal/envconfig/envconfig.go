// Package envconfig fills a configuration struct from environment variables and
// validates it with go-playground/validator. Each field's tags say:
//
//	env      the variable's name
//	default  its value when the variable is unset or empty
//	validate what is allowed (validator's syntax)
//	help     what a valid value looks like, for the error
//	secret   "true": an invalid value is never echoed in the error
//
// Fields may be string, int, bool or time.Duration.
package envconfig

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/go-playground/validator/v10"
)

// Error names the offending variable and what would be valid.
type Error struct {
	Key     string
	Problem string
	Valid   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("config: %s %s; want %s", e.Key, e.Problem, e.Valid)
}

// Load sets the fields of the struct dst points to from getenv, then checks
// them with v, leaving out the fields named in except. The first variable that
// is wrong is returned as an *Error; an error of v's that is not about a field
// is returned as it is.
func Load(dst any, getenv func(string) (string, bool), v *validator.Validate, except ...string) error {
	val := reflect.ValueOf(dst).Elem()
	t := val.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		raw, ok := getenv(f.Tag.Get("env"))
		if !ok || raw == "" {
			raw = f.Tag.Get("default")
		}
		if raw == "" {
			continue
		}
		if err := setField(val.Field(i), raw); err != nil {
			return &Error{Key: f.Tag.Get("env"), Problem: fmt.Sprintf("is %q, %v", raw, err), Valid: f.Tag.Get("help")}
		}
	}
	var err error
	if len(except) == 0 {
		err = v.Struct(dst)
	} else {
		err = v.StructExcept(dst, except...)
	}
	var verrs validator.ValidationErrors
	if errors.As(err, &verrs) {
		fe := verrs[0]
		f, _ := t.FieldByName(fe.StructField())
		var problem string
		switch {
		case fe.Tag() == "required":
			problem = "is not set"
		case f.Tag.Get("secret") == "true":
			problem = "is not valid" // never echo a credential
		default:
			problem = fmt.Sprintf("is %q, which is not valid", fmt.Sprint(fe.Value()))
		}
		return &Error{Key: f.Tag.Get("env"), Problem: problem, Valid: f.Tag.Get("help")}
	}
	return err
}

func setField(f reflect.Value, raw string) error {
	switch f.Interface().(type) {
	case string:
		f.SetString(raw)
	case int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return errors.New("not a whole number")
		}
		f.SetInt(int64(n))
	case bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return errors.New("not true or false")
		}
		f.SetBool(b)
	case time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return errors.New("not a duration")
		}
		f.SetInt(int64(d))
	default:
		return fmt.Errorf("unsupported config field type %s", f.Type())
	}
	return nil
}

// NewValidator is validator/v10's, with required struct fields checked and each
// of rules registered as a tag: a string field is valid when its rule says so.
func NewValidator(rules map[string]func(string) bool) *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	for tag, ok := range rules {
		_ = v.RegisterValidation(tag, func(fl validator.FieldLevel) bool { return ok(fl.Field().String()) })
	}
	return v
}
