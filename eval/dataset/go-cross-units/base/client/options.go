package client

import "time"

// Options of a request.
type Options struct {
	Timeout time.Duration
}

// WithTimeout returns options that give up after ms milliseconds.
func WithTimeout(ms int) Options {
	return Options{Timeout: time.Duration(ms) * time.Millisecond}
}
