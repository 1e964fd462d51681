package httpapi

// Operator is a person who may sign in to the dashboard by name: the password is
// kept only as a bcrypt hash (the sources file's operators: section). The API
// token still signs in too, as "api-token".
type Operator struct {
	Name         string
	PasswordHash string // bcrypt
}
