package sftptest

import (
	"net"
	"sync"
	"time"
)

// LatencyProxy forwards TCP connections to a target, delaying every chunk by a fixed
// delay in each direction (a round trip grows by twice the delay) without limiting
// bandwidth: an SFTP server "far away" on loopback, for benchmarks.
type LatencyProxy struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

// StartLatencyProxy listens on a free loopback port and forwards to target.
func StartLatencyProxy(target string, delay time.Duration) (*LatencyProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &LatencyProxy{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go pipeDelayed(s, c, delay)
			go pipeDelayed(c, s, delay)
		}
	}()
	return p, nil
}

// Addr is the address to dial instead of the target.
func (p *LatencyProxy) Addr() string { return p.ln.Addr().String() }

// Close stops listening and closes every forwarded connection.
func (p *LatencyProxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func pipeDelayed(dst, src net.Conn, delay time.Duration) {
	type chunk struct {
		due time.Time
		b   []byte
	}
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			b := make([]byte, 64<<10)
			n, err := src.Read(b)
			if n > 0 {
				q <- chunk{time.Now().Add(delay), b[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
}
