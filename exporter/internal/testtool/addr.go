package testtool

import "net"

// FreeAddr returns a loopback address whose port was free a moment ago: for a
// server a test starts (and may restart) on a known address.
func FreeAddr(t T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("a free loopback port: %v", err)
		return ""
	}
	defer l.Close()
	return l.Addr().String()
}
