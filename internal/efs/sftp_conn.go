package efs

import (
	"net"
	"sync"
)

// sftpCoalesceMax bounds the bytes a coalescingConn holds before its writer blocks:
// enough for several SSH packets (32 KiB each with OpenSSH's sshd) to go out in
// one write, small next to the socket's own buffer.
const sftpCoalesceMax = 512 << 10

// coalescingConn is the TCP connection under an SSH client. x/crypto/ssh writes
// every SSH packet through a 4 KiB bufio.Writer and flushes it at once, so a bulk
// upload costs two write syscalls per 32 KiB packet (4 KiB, then the rest), each
// waking sshd on loopback: measured, about 66,000 writes for 1 GiB, against
// OpenSSH's ssh client that writes what it has in one go. Write here only copies
// into a buffer; one goroutine writes everything buffered with one syscall, so
// while it is in a write the next packets gather behind it. Order is kept.
//
// A failed write is returned by the next Write (the SSH transport then fails as
// it would have). Nothing is lost that matters: the SFTP client waits for the
// server's answer to every request, which cannot come before the request went out.
type coalescingConn struct {
	net.Conn

	mu      sync.Mutex
	data    sync.Cond // buf is not empty, or closed
	space   sync.Cond // buf drained below sftpCoalesceMax, or err set
	buf     []byte
	spare   []byte
	err     error
	closed  bool
	waiting bool // the writer goroutine waits on data
}

func newCoalescingConn(c net.Conn) *coalescingConn {
	cc := &coalescingConn{Conn: c}
	cc.data.L = &cc.mu
	cc.space.L = &cc.mu
	go cc.writer()
	return cc
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.buf) >= sftpCoalesceMax && c.err == nil && !c.closed {
		c.space.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.closed {
		return 0, net.ErrClosed
	}
	c.buf = append(c.buf, p...)
	if c.waiting {
		c.data.Signal()
	}
	return len(p), nil
}

func (c *coalescingConn) writer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for len(c.buf) == 0 && !c.closed {
			c.waiting = true
			c.data.Wait()
			c.waiting = false
		}
		if c.closed {
			return
		}
		out := c.buf
		c.buf = c.spare[:0]
		c.mu.Unlock()
		_, err := c.Conn.Write(out)
		c.mu.Lock()
		c.spare = out[:0]
		if err != nil {
			c.err = err
			c.buf = nil
			c.space.Broadcast()
			return
		}
		c.space.Broadcast()
	}
}

// Close closes the connection at once: what is still buffered is dropped (see
// the type's comment), and a writer blocked on a dead peer is released.
func (c *coalescingConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.data.Signal()
	c.space.Broadcast()
	c.mu.Unlock()
	return c.Conn.Close()
}
