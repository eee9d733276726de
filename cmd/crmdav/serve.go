package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
)

// runServe will run the gateway; the DAV layers are not built yet.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return errors.New("the CalDAV/CardDAV gateway is not built yet; \"crmdav democrm\" runs the embedded CRM on its own")
}

// randomSecret makes a password or client secret: 24 random bytes,
// URL-safe base64.
func randomSecret() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
