package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/harmonium-ml/harmonium/cf"
	"github.com/harmonium-ml/harmonium/serve/ratingstore"
)

// TestCommandHelperProcess is not a test: it runs the command line in
// HARMONIUM_CMD_ARGS in a child process started by runChild or
// startServe (the test binary re-executed, possibly under an emulator).
func TestCommandHelperProcess(t *testing.T) {
	if os.Getenv("HARMONIUM_CMD_HELPER") != "1" {
		t.Skip("runs only as the child of a test")
	}
	args := strings.Split(os.Getenv("HARMONIUM_CMD_ARGS"), "\x1f")
	os.Exit(run(signalContext(), &env{stdout: os.Stdout, stderr: os.Stderr}, args))
}

// startServe starts harmonium serve in a child process and returns it with
// its base URL, once it listens.
func startServe(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCommandHelperProcess$")
	cmd.Env = append(os.Environ(), "HARMONIUM_CMD_HELPER=1", "HARMONIUM_CMD_ARGS="+strings.Join(append([]string{"serve", "--addr", "127.0.0.1:0", "--log", "off"}, args...), "\x1f"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, url, ok := strings.Cut(sc.Text(), "listening on "); ok {
				found <- url
			}
		}
	}()
	select {
	case url := <-found:
		return cmd, url
	case <-time.After(30 * time.Second):
		t.Fatal("harmonium serve did not start listening in 30 s")
	}
	return nil, ""
}

// TestServeCrashKeepsAcknowledgedRatings posts ratings from several
// clients, kills the server with SIGKILL while they are posting, restarts
// it and checks that every acknowledged rating is in the database.
func TestServeCrashKeepsAcknowledgedRatings(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "cf.safetensors")
	if code, _, errs := harmonium(t, "cf", "train", "--ratings", ratingsCSV(t, dir), "--hidden", "5", "--epochs", "3", "--implicit-hidden", "0", "--out", model, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	db := filepath.Join(dir, "ratings.db")
	cmd, url := startServe(t, "--model", "ml="+model, "--db", db)
	client := &http.Client{Timeout: 5 * time.Second}
	var mu sync.Mutex
	acked := map[[2]string]float64{}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				user, item, v := fmt.Sprintf("crash-%d", g), fmt.Sprint(i%30), float64(1+(i+g)%5)
				body := fmt.Sprintf(`[{"user":%q,"item":%q,"rating":%g}]`, user, item, v)
				resp, err := client.Post(url+"/v1/ratings", "application/json", strings.NewReader(body))
				if err != nil {
					return // killed
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return
				}
				mu.Lock()
				acked[[2]string{user, item}] = v
				mu.Unlock()
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 60 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	wg.Wait()
	cmd.Wait()
	if len(acked) == 0 {
		t.Fatal("no rating was acknowledged before the kill")
	}
	// The restarted server opens the database the crash left.
	_, url = startServe(t, "--model", "ml="+model, "--db", db)
	resp, err := client.Get(url + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("restarted server not ready: %v %v", resp, err)
	}
	resp.Body.Close()
	stored, err := ratingstore.Read(db)
	if err != nil {
		t.Fatal(err)
	}
	have := map[[2]string]float64{}
	for _, r := range stored.List {
		have[[2]string{r.User, r.Item}] = r.Value
	}
	for k, v := range acked {
		if w, ok := have[k]; !ok || w != v {
			t.Errorf("acknowledged rating %v = %g lost after kill -9 (stored: %g, %v)", k, v, w, ok)
		}
	}
	t.Logf("%d acknowledged ratings, all stored (%d rows)", len(acked), len(stored.List))
}

// TestServeSecondSignalEndsAtOnce stops a server whose request in flight
// stalls (a body that never arrives): the first SIGTERM starts the
// graceful shutdown, which would wait --grace for the request, and a
// second one must end the process at once.
func TestServeSecondSignalEndsAtOnce(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "cf.safetensors")
	if code, _, errs := harmonium(t, "cf", "train", "--ratings", ratingsCSV(t, dir), "--hidden", "5", "--epochs", "1", "--implicit-hidden", "0", "--out", model, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	cmd, url := startServe(t, "--model", "ml="+model, "--db", filepath.Join(dir, "ratings.db"), "--grace", "60s")
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/ratings HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n[")
	time.Sleep(200 * time.Millisecond)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		t.Fatalf("the server ended on the first SIGTERM with a request in flight: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("a second SIGTERM did not end the server")
	}
}

// TestServeRetrainFromDatabase trains a model from the ratings stored in a
// database, as cf train --ratings db:FILE does after serving.
func TestServeRetrainFromDatabase(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "stored.db")
	s, err := ratingstore.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ratings, err := cf.ReadRatings(ratingsCSV(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(context.Background(), ratings.List); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "m.safetensors")
	code, _, errs := harmonium(t, "cf", "train", "--ratings", "db:"+db, "--hidden", "5", "--epochs", "2", "--implicit-hidden", "0", "--out", out)
	if code != 0 || !strings.Contains(errs, "1800 ratings") {
		t.Fatalf("cf train from the database: %d %s", code, errs)
	}
	if code, _, errs := harmonium(t, "cf", "train", "--ratings", "db:"+filepath.Join(dir, "missing.db"), "--out", out); code == 0 || !strings.Contains(errs, "missing.db") {
		t.Fatalf("a missing database: %d %s", code, errs)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeDefaultDatabase runs serve without --db in a temporary working
// folder: it says where the database is, creates it there, and shuts down
// cleanly when its context ends (as on SIGTERM).
func TestServeDefaultDatabase(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "cf.safetensors")
	if code, _, errs := harmonium(t, "cf", "train", "--ratings", ratingsCSV(t, dir), "--hidden", "5", "--epochs", "2", "--implicit-hidden", "0", "--out", model, "--quiet"); code != 0 {
		t.Fatal(errs)
	}
	t.Chdir(dir)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, &env{stdout: io.Discard, stderr: &stderr}, []string{"serve", "--model", "ml=" + model, "--addr", "127.0.0.1:0", "--log", "off"})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("not listening: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if !strings.Contains(stderr.String(), filepath.Join(dir, "harmonium.db")) || !strings.Contains(stderr.String(), "shut down cleanly") {
		t.Errorf("stderr: %s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "harmonium.db")); err != nil {
		t.Error(err)
	}
}

func TestServeFlags(t *testing.T) {
	if code, out, _ := harmonium(t, "serve", "--help"); code != 0 || !strings.Contains(out, "curl") {
		t.Errorf("serve --help: %d %q", code, out)
	}
	for _, args := range [][]string{{}, {"--model", "noequals"}, {"--model", "../x=y.safetensors"}, {"--model", "a=b", "--log", "loud"}} {
		if code, _, _ := harmonium(t, append([]string{"serve"}, args...)...); code == 0 {
			t.Errorf("serve %v succeeded", args)
		}
	}
}

// TestServeTokenFile checks that the token file holds one token on one
// line, of at most maxTokenBytes bytes: a file of any other kind is refused
// with an error naming it, without being read whole.
func TestServeTokenFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if tok, err := readToken(write("good", "s3cret\n")); err != nil || tok != "s3cret" {
		t.Errorf("good token file: %q, %v", tok, err)
	}
	for name, text := range map[string]string{"empty": "", "blank": " \n", "two": "a b\n", "long": strings.Repeat("x", maxTokenBytes+1)} {
		p := write(name, text)
		if _, err := readToken(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("token file %s: %v, want an error naming it", name, err)
		}
	}
	if _, err := readToken(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing token file was accepted")
	}
}
