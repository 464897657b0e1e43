package efs

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// DefaultKnownHostsFile is ~/.ssh/known_hosts.
func DefaultKnownHostsFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".ssh", "known_hosts")
}

// DefaultIdentityFiles lists the usual private keys in ~/.ssh that exist.
func DefaultIdentityFiles() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		p := filepath.Join(home, ".ssh", n)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// keyscanHint tells how to add a host key to a known_hosts file.
func keyscanHint(addr, keyType, file string) string {
	host, port, _ := net.SplitHostPort(addr)
	t := ""
	if keyType != "" {
		t = "-t " + keyType + " "
	}
	p := ""
	if port != "" && port != "22" {
		p = "-p " + port + " "
	}
	return fmt.Sprintf("ssh-keyscan %s%s%s >> %s (then compare the fingerprint with the host's own: ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub)",
		t, p, host, file, keyTypeShort(keyType))
}

func keyTypeShort(t string) string {
	switch t {
	case ssh.KeyAlgoED25519:
		return "ed25519"
	case ssh.KeyAlgoRSA:
		return "rsa"
	case ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
		return "ecdsa"
	}
	return "*"
}

// hostKeyConfig returns the host key callback and the host key algorithms to ask for.
// Asking for the algorithms known_hosts has keys for avoids a false mismatch when the
// server's preferred key type is one we have no entry for.
func hostKeyConfig(cfg *SFTPConfig) (ssh.HostKeyCallback, []string, error) {
	if cfg.InsecureIgnoreHostKey {
		return ssh.InsecureIgnoreHostKey(), nil, nil
	}
	file := cfg.KnownHostsFile
	if file == "" {
		file = DefaultKnownHostsFile()
	}
	if _, err := os.Stat(file); err != nil {
		return nil, nil, fmt.Errorf("reading known hosts %s: %w; add the host key with: %s",
			file, err, keyscanHint(cfg.Addr, "", file))
	}
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil, nil, fmt.Errorf("reading known hosts %s: %w", file, err)
	}
	verify := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(hostname, remote, key)
		if err == nil {
			return nil
		}
		fp := ssh.FingerprintSHA256(key)
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &re):
			return fmt.Errorf("host key %s %s of %s is revoked in %s", key.Type(), fp, hostname, file)
		case errors.As(err, &ke) && len(ke.Want) == 0:
			return fmt.Errorf("%w: host %s (%s) is not in %s; it offers %s key %s. If that fingerprint is the host's, add it with: %s",
				ErrUnknownHostKey, hostname, remote, file, key.Type(), fp, keyscanHint(hostname, key.Type(), file))
		case errors.As(err, &ke):
			w := ke.Want[0]
			return fmt.Errorf("%w: HOST KEY MISMATCH for %s (%s): it offers %s key %s but %s:%d has %s key %s. "+
				"Someone could be intercepting the connection, or the host was re-keyed. If the change is expected, "+
				"remove the old entry with: ssh-keygen -R '%s' -f %s, then add the new one with: %s",
				ErrHostKeyMismatch, hostname, remote, key.Type(), fp, w.Filename, w.Line, w.Key.Type(), ssh.FingerprintSHA256(w.Key),
				knownhosts.Normalize(hostname), file, keyscanHint(hostname, key.Type(), file))
		}
		return fmt.Errorf("checking host key of %s against %s: %w", hostname, file, err)
	}
	return verify, knownAlgorithms(cb, cfg.Addr), nil
}

// knownAlgorithms asks the known_hosts callback which key types it has for addr.
func knownAlgorithms(cb ssh.HostKeyCallback, addr string) []string {
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	if ip == nil {
		ip = net.IPv4zero
	}
	err := cb(addr, &net.TCPAddr{IP: ip}, probeKey{})
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			algos = append(algos, a)
		}
	}
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512)
			add(ssh.KeyAlgoRSASHA256)
			add(ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return algos
}

// probeKey is a key no known_hosts entry matches.
type probeKey struct{}

func (probeKey) Type() string                        { return "probe@studio-migrator" }
func (probeKey) Marshal() []byte                     { return []byte("probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe key") }

// ErrUnknownHostKey: the host is not in known_hosts.
var ErrUnknownHostKey = errors.New("unknown SSH host key")

// ErrHostKeyMismatch: known_hosts has a different key for the host.
var ErrHostKeyMismatch = errors.New("SSH host key mismatch")

// authMethods loads the identity files and the agent.
func authMethods(cfg *SFTPConfig) ([]ssh.AuthMethod, func(), error) {
	var signers []ssh.Signer
	for _, f := range cfg.IdentityFiles {
		pem, err := os.ReadFile(f)
		if err != nil {
			if cfg.DefaultIdentities {
				continue
			}
			return nil, nil, fmt.Errorf("reading SSH identity %s: %w", f, err)
		}
		s, err := ssh.ParsePrivateKey(pem)
		var ppe *ssh.PassphraseMissingError
		if errors.As(err, &ppe) {
			if cfg.DefaultIdentities {
				continue // the agent may hold it
			}
			return nil, nil, fmt.Errorf("SSH identity %s is protected by a passphrase: load it into ssh-agent (ssh-add %s) and use the agent instead", f, f)
		}
		if err != nil {
			if cfg.DefaultIdentities {
				continue
			}
			return nil, nil, fmt.Errorf("parsing SSH identity %s: %w", f, err)
		}
		signers = append(signers, s)
	}
	cleanup := func() {}
	var methods []ssh.AuthMethod
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	if cfg.UseAgent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, nil, errors.New("SSH agent requested but SSH_AUTH_SOCK is not set")
		}
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, nil, fmt.Errorf("connecting to the SSH agent at %s: %w", sock, err)
		}
		cleanup = func() { conn.Close() }
		methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
	}
	if len(methods) == 0 {
		return nil, nil, errors.New("no SSH authentication method: no usable ~/.ssh/id_ed25519, id_ecdsa or id_rsa, no IdentityFile in ~/.ssh/config, " +
			"no --identity and no agent ($SSH_AUTH_SOCK); give a key with --identity (passphrase-protected keys: ssh-add them and use the agent)")
	}
	return methods, cleanup, nil
}

func defaultPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(addr, strconv.Itoa(22))
}
