package browsertest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	qrcode "github.com/skip2/go-qrcode"

	"tracecraft/api"
	"tracecraft/api/apitest"
	"tracecraft/localca"
)

// cameraCode is what the label's QR code holds: a GS1 element string in raw form, as a reader
// returns a GS1 QR or DataMatrix: AIs and values run together, GS after the variable-length lot.
const cameraCode = "010950110153000310LOT-CAM\x1d17261231"

// TestScanWithCamera (issue 9): on a 390×844 phone an operator taps 扫码 on the scan field; the
// camera (Chromium's fake camera playing a QR code drawn here) is read by the WebAssembly
// reader served by our binary (forced: the test must take the path of phones without a native
// BarcodeDetector; no other host is even resolvable), the field fills with the bracketed GS1
// string, the preview shows its AIs and the saved record has the mapped fields. On a desktop
// whose camera is refused, the viewer says so and reads a photo instead.
func TestScanWithCamera(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "scan-camera")
	s, admin := plantWithReceipt(t)

	dir := t.TempDir()
	video := filepath.Join(dir, "label.y4m")
	writeY4M(t, video, cameraCode, 640, 480)
	photo := filepath.Join(dir, "photo.png")
	if err := qrcode.WriteFile("https://id.example.com/01/09501101530003/10/LOT-PHOTO?17=270630", qrcode.Medium, 600, photo); err != nil {
		t.Fatal(err)
	}
	offline := chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")

	signIn := func(b *browser) {
		b.run("open the app", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#login-username")),
			chromedp.Evaluate[chromedp.Void](`localStorage.setItem('tc.scan.engine', 'zxing'), null`))
		b.run("sign in",
			chromedp.SendKeys(chromedp.CSS("#login-username"), "admin"),
			chromedp.SendKeys(chromedp.CSS("#login-password"), apitest.AdminPassword),
			chromedp.Click(chromedp.CSS(`[data-test="login-submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="app-plant"]`)),
		)
		b.run("open a new record", chromedp.Navigate(s.URL+"/apps/plant/forms/receipt/new"), chromedp.WaitVisible(chromedp.CSS(`[data-test="scan-camera"]`)))
	}
	// ownOrigin checks that every file the page fetched came from our server, the reader's
	// WebAssembly among them.
	ownOrigin := func(b *browser) {
		t.Helper()
		var urls []string
		b.run("list what the page fetched", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			var err error
			urls, err = chromedp.Evaluate[[]string](`performance.getEntriesByType('resource').map((e) => e.name)`)(ctx, tg)
			return err
		}))
		wasm := false
		for _, u := range urls {
			if !strings.HasPrefix(u, s.URL+"/") {
				t.Errorf("the page fetched %s, not from our server", u)
			}
			wasm = wasm || strings.HasPrefix(u, s.URL+"/assets/zxing_reader-") && strings.HasSuffix(u, ".wasm")
		}
		if !wasm {
			t.Errorf("the reader's WebAssembly was not fetched from /assets/: %v", urls)
		}
	}

	t.Run("phone camera", func(t *testing.T) {
		vp := viewports[1]
		b := newBrowser(t, bin, vp, filepath.Join(screens, vp.name), offline,
			chromedp.Flag("use-fake-ui-for-media-stream", true),
			chromedp.Flag("use-fake-device-for-media-stream", true),
			chromedp.Flag("use-file-for-fake-video-capture", video))
		signIn(b)
		b.shot("01-record-form")
		b.run("open the camera", chromedp.Click(chromedp.CSS(`[data-test="scan-camera"]`)))
		// The fake camera shows the code at once, so the viewer may close before a picture:
		// what it looked like is in the photo subtest's shots.
		want := "(01)09501101530003(10)LOT-CAM(17)261231"
		b.run("read the code", chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector('#f-code')?.value === %q && !document.querySelector('[data-test="camera-scanner"]')`, want),
			chromedp.WithPollingInterval(100*time.Millisecond)),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="gs1-parsed"]`)))
		b.waitText(`[data-test="gs1-parsed"]`, "LOT-CAM")
		b.waitText(`[data-test="gs1-parsed"]`, "到期日")
		b.shot("02-code-read")
		ownOrigin(b)

		material := "摄像头扫码-" + vp.name
		b.run("fill and save",
			chromedp.SendKeys(chromedp.CSS("#f-material"), material),
			chromedp.SendKeys(chromedp.CSS("#f-qty"), "10"),
			chromedp.Click(chromedp.CSS(`[data-test="save-record"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="record-cards"]`)))
		var got struct {
			Items []struct {
				Data map[string]any `json:"data"`
			} `json:"items"`
		}
		admin.Do("POST", "/api/v1/apps/plant/forms/receipt/records/query", map[string]any{
			"filters": []map[string]any{{"field": "material", "op": "eq", "value": material}},
		}, 200, &got)
		if len(got.Items) != 1 {
			t.Fatalf("records saved: %d", len(got.Items))
		}
		if d := got.Items[0].Data; d["code"] != want || d["gtin"] != "09501101530003" || d["supplier_lot"] != "LOT-CAM" || d["expiry"] != "2026-12-31" {
			t.Fatalf("saved record: %v", d)
		}
		b.noPageErrors()
	})

	t.Run("phone viewer", func(t *testing.T) {
		// Chromium's own fake camera (a moving pattern, no code): the viewer as an operator
		// sees it while aiming; × closes it and gives the focus back to 扫码.
		vp := viewports[1]
		b := newBrowser(t, bin, vp, filepath.Join(screens, "viewer-"+vp.name), offline,
			chromedp.Flag("use-fake-ui-for-media-stream", true),
			chromedp.Flag("use-fake-device-for-media-stream", true))
		signIn(b)
		b.run("open the camera", chromedp.Click(chromedp.CSS(`[data-test="scan-camera"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="camera-scanner"][data-status="scanning"][data-engine="zxing"]`)))
		b.waitText(`[data-test="camera-scanner"]`, "将条码或二维码放入框内")
		viewShot(b, "01-viewer")
		b.run("close it", chromedp.Click(chromedp.CSS(`[data-test="camera-close"]`)),
			chromedp.WaitNotPresent(chromedp.CSS(`[data-test="camera-scanner"]`)),
			chromedp.Poll[chromedp.Void](`document.activeElement?.dataset.test === 'scan-camera'`, chromedp.WithPollingInterval(50*time.Millisecond)))
		if got := b.value("#f-code"); got != "" {
			t.Fatalf("closing the viewer left %q in the field", got)
		}
		b.noPageErrors()
	})

	t.Run("refused camera, photo", func(t *testing.T) {
		for _, vp := range viewports {
			t.Run(vp.name, func(t *testing.T) {
				// A camera is there, but the operator refused it to the site.
				b := newBrowser(t, bin, vp, filepath.Join(screens, "photo-"+vp.name), offline,
					chromedp.Flag("use-fake-device-for-media-stream", true))
				signIn(b)
				b.run("refuse the camera", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
					_, err := cdp.Call(ctx, tg, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
						Permission: &cdpbrowser.PermissionDescriptor{Name: "camera"}, Setting: cdpbrowser.PermissionSettingDenied, Origin: s.URL})
					return err
				}))
				b.run("open the camera", chromedp.Click(chromedp.CSS(`[data-test="scan-camera"]`)),
					chromedp.WaitVisible(chromedp.CSS(`[data-test="camera-problem"]`)))
				problem := ""
				b.run("read the problem", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
					var err error
					problem, err = chromedp.Evaluate[string](`document.querySelector('[data-test="camera-problem"]').dataset.problem`)(ctx, tg)
					return err
				}))
				if problem != "denied" {
					t.Fatalf("camera problem %q, want denied", problem)
				}
				b.waitText(`[data-test="camera-problem"]`, "没有使用摄像头的权限")
				viewShot(b, "01-camera-refused")
				b.run("read a photo", chromedp.SetUploadFiles(chromedp.CSS(`[data-test="camera-photo-input"]`), []string{photo}),
					chromedp.WaitNotPresent(chromedp.CSS(`[data-test="camera-scanner"]`)))
				link := "https://id.example.com/01/09501101530003/10/LOT-PHOTO?17=270630"
				if got := b.value("#f-code"); got != link {
					t.Fatalf("scan field holds %q after the photo", got)
				}
				b.waitText(`[data-test="gs1-parsed"]`, "LOT-PHOTO")
				b.shot("02-photo-read")
				ownOrigin(b)
				b.noPageErrors()
			})
		}
	})
}

// TestCATrustPage: the page that tells phone users how to trust the local CA, on a 390×844
// phone, in Chinese and in English (its content is checked in api; this is for the eye).
func TestCATrustPage(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "ca-page")
	ca, err := localca.NewManager(localca.Options{Dir: t.TempDir(), Hosts: []string{"plant.local", "192.168.1.10"}, Name: "一号工厂"})
	if err != nil {
		t.Fatal(err)
	}
	s := apitest.StartWith(t, apitest.Options{API: func(o *api.Options) { o.LocalCA = ca }})
	b := newBrowser(t, bin, viewports[1], screens)
	b.run("open the page", chromedp.Navigate(s.URL+"/ca?lang=zh-CN"), chromedp.WaitVisible(chromedp.CSS(`[data-test="ca-download"]`)))
	b.waitText("body", ca.Bundle().Fingerprint())
	b.waitText("body", "证书信任设置")
	b.shot("01-ca-zh")
	b.run("in English", chromedp.Navigate(s.URL+"/ca?lang=en"), chromedp.WaitVisible(chromedp.CSS(`[data-test="ca-download"]`)))
	b.waitText("body", "Certificate Trust Settings")
	b.shot("02-ca-en")
	b.noPageErrors()
}

// viewShot saves what the screen shows (the viewer covers it; a whole-page picture would
// stretch it to the form's height).
func viewShot(b *browser, name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err == nil {
		err = os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644)
	}
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
}

// writeY4M writes one frame of a QR code holding text, black on white in the middle of a
// width×height picture, as the YUV4MPEG2 file Chromium's fake camera plays in a loop.
func writeY4M(t *testing.T, path, text string, width, height int) {
	t.Helper()
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	bits := q.Bitmap() // with its quiet zone
	scale := (min(width, height) * 3 / 4) / len(bits)
	side := scale * len(bits)
	x0, y0 := (width-side)/2, (height-side)/2
	luma := make([]byte, width*height)
	for i := range luma {
		luma[i] = 235
	}
	for y := range side {
		for x := range side {
			if bits[y/scale][x/scale] {
				luma[(y0+y)*width+x0+x] = 16
			}
		}
	}
	chroma := make([]byte, width*height/2) // U and V planes, 4:2:0, no colour
	for i := range chroma {
		chroma[i] = 128
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "YUV4MPEG2 W%d H%d F30:1 Ip A1:1 C420jpeg\n", width, height)
	for range 2 {
		w.WriteString("FRAME\n")
		w.Write(luma)
		w.Write(chroma)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
