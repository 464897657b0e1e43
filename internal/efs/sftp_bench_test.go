package efs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/efs/sftptest"
)

// latencyProxy forwards TCP to target through sftptest.LatencyProxy for the rest of
// the benchmark (so the round trip grows by 2*delay).
func latencyProxy(tb testing.TB, target string, delay time.Duration) string {
	tb.Helper()
	p, err := sftptest.StartLatencyProxy(target, delay)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p.Addr()
}

// BenchmarkSFTPThroughput writes then reads one file through the SFTP backend,
// directly and through a proxy that adds round-trip latency.
//
//	go test -run XXX -bench SFTPThroughput -benchtime 3x ./internal/efs/
func BenchmarkSFTPThroughput(b *testing.B) {
	srv, err := sftptest.Start(sftptest.Options{Dir: b.TempDir()})
	if err != nil {
		b.Skip(err)
	}
	defer srv.Close()
	seq := 0
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<20/16) // 64 MiB
	for _, rtt := range []time.Duration{0, 10 * time.Millisecond, 40 * time.Millisecond} {
		addr := srv.Addr()
		if rtt > 0 {
			addr = latencyProxy(b, addr, rtt/2)
		}
		cfg := efs.SFTPConfig{Addr: addr, Root: srv.Dir(), KnownHostsFile: srv.KnownHostsFile(), IdentityFiles: []string{srv.ClientKeyFile()}}
		if rtt > 0 {
			cfg.InsecureIgnoreHostKey = true // the proxy's address is not in known_hosts
		}
		f, err := efs.DialSFTP(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		attr := efs.Attr{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Perm: 0o644, ModTime: time.Now()}
		b.Run(fmt.Sprintf("write/rtt=%v", rtt), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				seq++
				name := fmt.Sprintf("w%d", seq)
				w, err := f.Create(context.Background(), name, attr)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				f.Remove(context.Background(), name)
				b.StartTimer()
			}
		})
		rname := fmt.Sprintf("r%v", rtt)
		w, err := f.Create(context.Background(), rname, attr)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(w, bytes.NewReader(data))
		w.Close()
		b.Run(fmt.Sprintf("read/rtt=%v", rtt), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				r, err := f.Open(context.Background(), rname)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, struct{ io.Reader }{r}); err != nil || n != int64(len(data)) {
					b.Fatal(n, err)
				}
				r.Close()
			}
		})
		b.Run(fmt.Sprintf("read-writeto/rtt=%v", rtt), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				r, err := f.Open(context.Background(), rname)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, r); err != nil || n != int64(len(data)) {
					b.Fatal(n, err)
				}
				r.Close()
			}
		})
		b.Run(fmt.Sprintf("smallfiles/rtt=%v", rtt), func(b *testing.B) {
			// 200 files of 4 KiB from 16 goroutines: latency-bound metadata work.
			small := data[:4096]
			for i := 0; i < b.N; i++ {
				seq++
				dir := fmt.Sprintf("s%d", seq)
				f.Mkdir(context.Background(), dir, 0o755)
				var wg sync.WaitGroup
				for g := 0; g < 16; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for j := g; j < 200; j += 16 {
							w, err := f.Create(context.Background(), fmt.Sprintf("%s/%d", dir, j), attr)
							if err != nil {
								b.Error(err)
								return
							}
							w.Write(small)
							if err := w.Close(); err != nil {
								b.Error(err)
							}
						}
					}()
				}
				wg.Wait()
			}
			b.ReportMetric(float64(200*b.N)/b.Elapsed().Seconds(), "files/s")
		})
		f.Close()
	}
}
