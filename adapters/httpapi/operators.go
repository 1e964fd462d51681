package httpapi

// Operator is a person who may sign in to the dashboard by name: the password is
// kept only as a bcrypt hash (TRADEWIND_OPERATORS or the sources file's
// operators: section). The API token still signs in too, as "api-token".
type Operator struct {
	Name         string `yaml:"name"`
	PasswordHash string `yaml:"password_hash"`
}
