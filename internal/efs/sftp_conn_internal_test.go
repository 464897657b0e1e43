package efs

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TestCoalescingConnTCP sends packets of every size through a real loopback TCP
// connection: the peer receives exactly the bytes written, in order.
func TestCoalescingConnTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := newCoalescingConn(nc)
	var want bytes.Buffer
	for i := range 300 {
		p := bytes.Repeat([]byte{byte(i)}, 1+(i*7919)%(70<<10))
		want.Write(p)
		if n, err := c.Write(p); n != len(p) || err != nil {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
	}
	// Close drops what is still buffered: wait until the writer sent everything.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		idle := len(c.buf) == 0 && c.waiting
		c.mu.Unlock()
		if idle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writer did not drain its buffer in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	c.Close()
	b := <-got
	if !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("peer got %d bytes, want %d (equal prefix: %v)", len(b), want.Len(), bytes.HasPrefix(want.Bytes(), b))
	}
}

// gatedConn is a socket whose writes block until released, and which records them.
type gatedConn struct {
	net.Conn
	gate   chan struct{}
	mu     sync.Mutex
	writes [][]byte
	fail   error
}

func (g *gatedConn) Write(p []byte) (int, error) {
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fail != nil {
		return 0, g.fail
	}
	g.writes = append(g.writes, bytes.Clone(p))
	return len(p), nil
}

func (g *gatedConn) Close() error { return nil }

// TestCoalescingConnMerges: packets written while the socket write is busy go out
// together, in one write, in order.
func TestCoalescingConnMerges(t *testing.T) {
	g := &gatedConn{gate: make(chan struct{})}
	c := newCoalescingConn(g)
	defer c.Close()
	c.Write([]byte("first"))
	// Wait until the writer took "first" (it then blocks on the gate).
	for {
		c.mu.Lock()
		taken := len(c.buf) == 0
		c.mu.Unlock()
		if taken {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for _, s := range []string{"a", "bb", "ccc"} {
		if _, err := c.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	g.gate <- struct{}{} // "first"
	g.gate <- struct{}{} // the rest
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		n := len(g.writes)
		g.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("socket got %d writes, want 2", n)
		}
		time.Sleep(time.Millisecond)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if string(g.writes[0]) != "first" || string(g.writes[1]) != "abbccc" {
		t.Fatalf("socket writes %q, want [first abbccc]", g.writes)
	}
}

// TestCoalescingConnErrors: a failed socket write fails the next Write, and Close
// releases a Write blocked on a full buffer.
func TestCoalescingConnErrors(t *testing.T) {
	boom := errors.New("connection reset")
	g := &gatedConn{gate: make(chan struct{}), fail: boom}
	c := newCoalescingConn(g)
	c.Write([]byte("x"))
	g.gate <- struct{}{}
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		_, err = c.Write([]byte("y"))
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(err, boom) {
		t.Fatalf("Write after a failed socket write: %v, want %v", err, boom)
	}
	c.Close()

	g2 := &gatedConn{gate: make(chan struct{})} // never released: a dead peer
	c2 := newCoalescingConn(g2)
	done := make(chan error, 1)
	go func() {
		var err error
		for err == nil {
			_, err = c2.Write(make([]byte, 64<<10)) // fills the buffer, then blocks
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c2.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked Write after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not release a Write blocked on a full buffer")
	}
	close(g2.gate) // let the writer goroutine finish
}
