package testutil

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Redis is a redis-server started for one test.
type Redis struct {
	// Addr is host:port on 127.0.0.1.
	Addr string
	cmd  *exec.Cmd
}

// URL is the server's redis:// URL (database 0).
func (r *Redis) URL() string { return "redis://" + r.Addr + "/0" }

// StartRedis starts Debian's redis-server on a free 127.0.0.1 port with its files in
// a temporary directory, no persistence, empty (FLUSHALL), and stops it when the test
// ends. It skips (fails under MIGRATOR_STRICT_TESTS=1) when redis-server is missing.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin := RequireBinary(t, "apt-get install redis-server", "redis-server", "/usr/bin/redis-server")
	dir := t.TempDir()
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("finding a free port for redis-server: %v", err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no",
			"--logfile", "", "--loglevel", "warning")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting redis-server: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		r := &Redis{Addr: addr, cmd: cmd}
		if lastErr = waitRedis(addr, done, 10*time.Second); lastErr == nil {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-done
			})
			if _, err := r.Do("FLUSHALL"); err != nil {
				t.Fatalf("flushing redis-server: %v", err)
			}
			return r
		}
		_ = cmd.Process.Kill()
		<-done
		lastErr = fmt.Errorf("%w (output: %s)", lastErr, out.String())
	}
	t.Fatalf("redis-server did not start: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitRedis(addr string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-exited:
			return fmt.Errorf("redis-server on %s exited at start", addr)
		default:
		}
		if reply, err := do(addr, "PING"); err == nil && reply == "PONG" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not answer PING within %v", addr, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Do sends one command and returns a simple-string, integer or bulk reply as text.
// It is for test set-up and checks (FLUSHALL, DBSIZE); use a real client for more.
func (r *Redis) Do(args ...string) (string, error) { return do(r.Addr, args...) }

func do(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	rd := bufio.NewReader(c)
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return line, nil
}
