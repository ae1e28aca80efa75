package names

import "errors"

// ErrEmpty is returned for an empty name.
var ErrEmpty = errors.New("empty name")

// Validate checks a name: it must not be empty.
func Validate(name string) error {
	if name == "" {
		return ErrEmpty
	}
	return nil
}
