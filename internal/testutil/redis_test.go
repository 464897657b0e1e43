package testutil

import "testing"

func TestStartRedis(t *testing.T) {
	r := StartRedis(t)
	if _, err := r.Do("SET", "k", "v 1"); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Do("GET", "k"); err != nil || got != "v 1" {
		t.Fatalf("GET k = %q, %v", got, err)
	}
	if n, err := r.Do("DBSIZE"); err != nil || n != "1" {
		t.Fatalf("DBSIZE = %q, %v", n, err)
	}
	if _, err := r.Do("NOSUCHCOMMAND"); err == nil {
		t.Fatal("an unknown command did not fail")
	}
}
