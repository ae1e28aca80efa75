package config

import (
	"io"
	"os"
)

// Load reads the configuration file at path.
func Load(path string) ([]byte, error) {
	f, err := os.Open(path)
	defer f.Close()
	if err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}
