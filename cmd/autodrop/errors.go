package main

import "errors"

// errUsage is returned by a command whose flags could not be parsed; the flag
// package has already printed the problem and the usage.
var errUsage = errors.New("usage")
