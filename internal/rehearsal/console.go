package rehearsal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/chromedp/chromedp"
)

// screenshot opens the rehearsal's own serve's /console in a headless
// Chromium (Debian's package; OBSPLANE_CHROMIUM overrides), waits until the
// page renders what `migrate status` says at that moment — phase Cutover,
// rollout 100% — and keeps a PNG of the page at cfg.Screenshot.
func (r *runner) screenshot(ctx context.Context) error {
	shot, err := filepath.Abs(r.cfg.Screenshot)
	if err != nil {
		return err
	}
	bin := r.cfg.Chromium
	if _, err := exec.LookPath(bin); err != nil {
		return fmt.Errorf("console screenshot: no Chromium at %s (%v): install Debian's chromium or set OBSPLANE_CHROMIUM", bin, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 1500), chromedp.Flag("disable-gpu", true))
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	tctx, cancelT := context.WithTimeout(bctx, 90*time.Second)
	defer cancelT()
	url := "http://" + r.srv.HTTP + "/console?interval=500"
	if err := chromedp.Do(tctx, chromedp.Navigate(url)); err != nil {
		return fmt.Errorf("console screenshot: open %s: %w", url, err)
	}
	// ...and its latency summary counts reads on both backends (the
	// chart is drawn from the same answer).
	const shown = `document.getElementById("phase") && document.getElementById("phase").textContent === "Cutover" &&
		document.getElementById("rollout") && document.getElementById("rollout").textContent === "100%" &&
		/ClickHouse .* over [1-9][0-9]* reads; OpenSearch .* over [1-9][0-9]* reads/.test((document.getElementById("latency-summary") || {}).textContent || "")`
	for {
		ok, err := chromedp.Run(tctx, chromedp.Evaluate[bool](shown))
		if err != nil {
			return fmt.Errorf("console screenshot: %w", err)
		}
		if ok {
			break
		}
		select {
		case <-tctx.Done():
			text, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			return fmt.Errorf("console screenshot: %s never showed phase Cutover at rollout 100%% with reads on both backends in its latency summary; the page shows:\n%s", url, tail(text, 30))
		case <-time.After(250 * time.Millisecond):
		}
	}
	png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("console screenshot: %w", err)
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		return err
	}
	r.cfg.Log.Info("console screenshot", "path", shot, "bytes", len(png))
	return nil
}
