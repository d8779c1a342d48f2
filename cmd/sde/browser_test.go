package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/opensde/sde/disclosure"
	"github.com/opensde/sde/sde/synth"
)

// The browser tests drive the web workbench in Debian's Chromium, headless, against a real
// `serve --dev`: real sign-in through the development OIDC issuer, real queries through the
// worker and disclosure control. `make test` installs Chromium (scripts/chromium.sh); with
// CI=true a missing browser fails the run instead of skipping it.

// chromiumPath finds the browser: $SDE_CHROMIUM_BIN, then chromium on PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SDE_CHROMIUM_BIN"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is missing: CI must run the browser tests (make test installs it with scripts/chromium.sh)")
	}
	t.Skip("Chromium is not installed; run `make test` (it installs Debian's chromium) or set SDE_CHROMIUM_BIN")
	return ""
}

// browser starts headless Chromium for the workbench at base; each person gets their own
// browser process (separate cookies), as separate people on separate machines would.
type browser struct {
	t     *testing.T
	base  string
	exe   string
	shots string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	shots := filepath.Join("..", "..", "testdata", "screenshots")
	os.MkdirAll(shots, 0o755)
	return &browser{t: t, base: base, exe: chromiumPath(t), shots: shots}
}

// tab starts a fresh browser and returns its tab, closed when t ends.
func (b *browser) tab(t *testing.T, user string) *page {
	t.Helper()
	// Not t.TempDir: Chromium's helpers may still be writing to the profile as the test ends.
	profile, err := os.MkdirTemp("", "sde-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(profile) })
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(b.exe),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1366, 900), // a laptop screen
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	p := &page{b: b, t: t, ctx: ctx, user: user}
	// Script errors fail the test: the pages must run clean.
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			t.Errorf("%s: script error: %s", user, e.ExceptionDetails.Error())
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return p
}

// page is one person's tab.
type page struct {
	b    *browser
	t    *testing.T
	ctx  context.Context
	user string
}

// signIn opens the workbench in a fresh browser context and signs in as a demo user through the
// development issuer's page, as a person would.
func (b *browser) signIn(t *testing.T, user string) *page {
	t.Helper()
	p := b.tab(t, user)
	p.run(chromedp.Navigate(b.base+"/"), chromedp.WaitVisible("#sign-in", chromedp.ByID), chromedp.Click("#sign-in", chromedp.ByID),
		chromedp.WaitVisible(`button[value="`+user+`"]`), chromedp.Click(`button[value="`+user+`"]`),
		chromedp.WaitVisible("#whoami", chromedp.ByID))
	if me := p.fetchText("/api/v1/me"); !strings.Contains(me, `"user": "`+user+`"`) {
		t.Fatalf("signed in as %s, the API says %q", user, me)
	}
	return p
}

// with returns the page for use in subtest t, so a failure there stops only that subtest.
func (p *page) with(t *testing.T) *page {
	q := *p
	q.t = t
	return &q
}

// clear empties a text field, as select-all and delete would.
func (p *page) clear(sel string) {
	p.t.Helper()
	p.run(chromedp.Evaluate(`document.querySelector(`+jsString(sel)+`).value = ''`, nil))
}

func (p *page) run(actions ...chromedp.Action) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		p.shot("failure-" + p.user)
		p.t.Fatalf("%s: %v\npage: %s", p.user, err, p.textNoFail("main"))
	}
}

// open goes to a route of the workbench and waits until its heading is drawn.
func (p *page) open(hash string) {
	p.t.Helper()
	p.run(chromedp.Navigate(p.b.base+"/"+hash), chromedp.WaitVisible("main h1", chromedp.ByQuery),
		chromedp.WaitNotPresent(`main[aria-busy="true"]`, chromedp.ByQuery))
}

// watchCSP records content-security-policy violations from now on; cspViolations reads them.
func (p *page) watchCSP() {
	p.run(chromedp.Evaluate(`window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI))`, nil))
}

func (p *page) cspViolations() []string { return eval[[]string](p, `window.__csp || []`) }

func (p *page) text(sel string) string {
	p.t.Helper()
	var s string
	p.run(chromedp.Text(sel, &s, chromedp.ByQuery))
	return s
}

func (p *page) textNoFail(sel string) string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	var s string
	chromedp.Run(ctx, chromedp.Text(sel, &s, chromedp.ByQuery))
	return s
}

// eval runs a script expression and returns its value.
func eval[T any](p *page, js string) T {
	p.t.Helper()
	var v T
	p.run(chromedp.Evaluate(js, &v))
	return v
}

// waitFor polls a script condition until it is true.
func (p *page) waitFor(js string) {
	p.t.Helper()
	p.run(chromedp.Poll(js, nil, chromedp.WithPollingTimeout(45*time.Second)))
}

// shot saves a screenshot of the whole page to testdata/screenshots (ignored by git).
func (p *page) shot(name string) {
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err == nil {
		os.WriteFile(filepath.Join(p.b.shots, name+".png"), png, 0o644)
	}
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }

// fetchText fetches a URL from the page (with its cookie), as a download link would.
func (p *page) fetchText(url string) string {
	p.t.Helper()
	var s string
	p.run(chromedp.Evaluate(`fetch(`+jsString(url)+`).then(async r => r.status + "\n" + (r.headers.get("Content-Disposition") || "") + "\n" + await r.text())`, &s,
		func(e *runtime.EvaluateParams) *runtime.EvaluateParams { return e.WithAwaitPromise(true) }))
	return s
}

// axeSource is axe-core (web/package.json, installed by scripts/web.sh), the accessibility
// engine the browser tests inject into pages; read once.
var axeSource = sync.OnceValues(func() ([]byte, error) {
	return os.ReadFile(filepath.Join("..", "..", "web", "node_modules", "axe-core", "axe.min.js"))
})

// accessible runs axe-core's WCAG 2 A and AA rules (labels, names, contrast, ARIA, landmarks,
// keyboard focusability) on the page as it is now and fails on any violation.
func (p *page) accessible(what string) {
	p.t.Helper()
	src, err := axeSource()
	if err != nil {
		if os.Getenv("CI") == "true" {
			p.t.Fatalf("axe-core is missing (make test installs it with scripts/web.sh): %v", err)
		}
		p.t.Logf("accessibility not checked: %v", err)
		return
	}
	var found []string
	p.run(chromedp.Evaluate(string(src), nil),
		chromedp.Evaluate(`axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
			.then(r => r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')))`, &found,
			func(e *runtime.EvaluateParams) *runtime.EvaluateParams { return e.WithAwaitPromise(true) }))
	for _, v := range found {
		p.t.Errorf("%s: accessibility: %s", what, v)
	}
}

func TestWebUI(t *testing.T) {
	m, _ := startDev(t, t.TempDir())
	// Differencing sends results to output checkers, so the review flow has something to review.
	m.Query.Policy.Differencing = disclosure.ActionReview
	b := newBrowser(t, "http://"+m.HTTP.Addr())

	t.Run("signed out", func(t *testing.T) {
		p := b.tab(t, "anonymous")
		p.run(chromedp.Navigate(b.base+"/#/workspaces"), chromedp.WaitVisible("#sign-in", chromedp.ByID))
		if n := eval[int](p, `document.querySelectorAll('#nav a').length`); n != 0 {
			t.Errorf("signed-out page shows %d navigation links", n)
		}
		if href := eval[string](p, `document.getElementById('sign-in').getAttribute('href')`); href != "/auth/login?next=%2F%23%2Fworkspaces" {
			t.Errorf("sign-in link = %q: it should come back to the page asked for", href)
		}
		p.accessible("signed-out page")
		p.shot("signed-out")
	})

	t.Run("each role signs in and sees its pages", func(t *testing.T) {
		nav := map[string][]string{
			"analyst1":      {"Catalogue", "Workspaces", "Dashboards", "Agreements"},
			"planner1":      {"Dashboards"},
			"checker1":      {"Output checking"},
			"controller-gp": {"Workspaces", "Agreements"},
			"admin":         {"Catalogue"},
		}
		for user, want := range nav {
			p := b.signIn(t, user)
			p.open("#/")
			links := p.text("#nav")
			for _, w := range want {
				if !strings.Contains(links, w) {
					t.Errorf("%s: navigation %q lacks %q", user, links, w)
				}
			}
			if strings.Contains(links, "Output checking") != (user == "checker1") {
				t.Errorf("%s: navigation %q (output checking is for checkers only)", user, links)
			}
			if user == "controller-gp" {
				if card := p.text("#membership-reviews"); !strings.Contains(card, "to confirm within 30 days") {
					t.Errorf("controller's membership reviews = %q", card)
				}
			}
			if h1 := p.text("main h1"); !strings.HasPrefix(h1, "Welcome") {
				t.Errorf("%s: home heading %q", user, h1)
			}
			p.accessible("home of " + user)
			p.shot("home-" + user)
		}
	})

	analyst := b.signIn(t, "analyst1")

	t.Run("analyst runs a query and sees suppressed cells marked", func(t *testing.T) {
		p := analyst.with(t)
		p.open("#/workspaces/demo/query")
		p.accessible("workbench")
		if tables := p.text(".schema"); !strings.Contains(tables, "patients") || !strings.Contains(tables, "hospital_admissions") {
			t.Errorf("schema browser = %q", tables)
		}
		// Typed and run from the keyboard: Enter on the focused Run button.
		p.clear("#sql")
		p.run(chromedp.SendKeys("#sql", "SELECT ethnicity, sex, count(*) AS n FROM patients GROUP BY ROLLUP (ethnicity, sex)", chromedp.ByID),
			chromedp.Focus("#run", chromedp.ByID), chromedp.KeyEvent("\r"),
			chromedp.WaitVisible("#result td.suppressed", chromedp.ByQuery))
		title := eval[string](p, `document.querySelector('#result td.suppressed').title`)
		if !strings.HasPrefix(title, "Suppressed") {
			t.Errorf("suppressed cell's hover text = %q", title)
		}
		if st := eval[string](p, `document.querySelector('[data-result-status]').dataset.resultStatus`); st != "released" {
			t.Errorf("result status = %q", st)
		}
		// The suppressed cell looks different from a released one.
		bg := eval[[]string](p, `[getComputedStyle(document.querySelector('#result td.suppressed')).backgroundColor,
			getComputedStyle(document.querySelector('#result td[data-status="ok"]')).backgroundColor]`)
		if bg[0] == bg[1] {
			t.Errorf("suppressed and released cells share a background %q", bg[0])
		}
		// ROLLUP margins are labelled as totals.
		if n := eval[int](p, `[...document.querySelectorAll('#result td.total')].filter(td => td.textContent === 'Total').length`); n == 0 {
			t.Error("no ROLLUP total row is labelled Total")
		}
		p.accessible("workbench with a result")
		p.shot("analyst-query")
		href := eval[string](p, `document.querySelector('#result a[download]').getAttribute('href')`)
		csv := p.fetchText(href)
		if !strings.HasPrefix(csv, "200\nattachment;") || !strings.Contains(csv, "ethnicity,sex,n") {
			t.Errorf("CSV download = %q", csv)
		}
		// The query is in the history.
		p.waitFor(`document.querySelector('#history').textContent.includes("ROLLUP")`)
	})

	t.Run("analyst turns a released query into a dashboard", func(t *testing.T) {
		p := analyst.with(t)
		p.open("#/dashboards")
		p.run(chromedp.Click(`a[href="#/workspaces/demo/dashboards/new"]`, chromedp.ByQuery), chromedp.WaitVisible("#new-dashboard", chromedp.ByID))
		p.accessible("new dashboard form")
		p.run(chromedp.SendKeys("#dash-title", "Registered population by ethnicity", chromedp.ByID),
			chromedp.Click(`//tr[contains(., "ROLLUP (ethnicity, sex)")]//input[@type="checkbox"]`, chromedp.BySearch),
			chromedp.Click(`#new-dashboard button[type="submit"]`, chromedp.ByQuery))
		p.waitFor(`document.querySelector('#status').textContent.includes('Created the dashboard')`)
		p.waitFor(`document.querySelectorAll('.chart svg path').length > 5`)
		if legend := p.text("figure figcaption"); !strings.Contains(legend, "Gaps are suppressed values") {
			t.Errorf("legend of a chart with suppressed values = %q", legend)
		}
		p.accessible("new dashboard")
		p.shot("analyst-dashboard")
	})

	t.Run("analyst's refused query says why", func(t *testing.T) {
		p := analyst.with(t)
		p.open("#/workspaces/demo/query")
		p.clear("#sql")
		p.run(chromedp.SendKeys("#sql", "SELECT person_id FROM patients", chromedp.ByID), chromedp.Click("#run", chromedp.ByID),
			chromedp.WaitVisible("#result .alert", chromedp.ByQuery))
		if msg := p.text("#result .alert"); !strings.Contains(msg, "person") {
			t.Errorf("refusal = %q", msg)
		}
	})

	t.Run("analyst requests a workspace and a controller approves it", func(t *testing.T) {
		p := analyst.with(t)
		p.open("#/workspaces/new")
		p.accessible("new workspace request")
		p.run(chromedp.SendKeys("#ws-id", "frailty-2027", chromedp.ByID),
			chromedp.SendKeys("#ws-purpose", "Frailty and social-care use among older people.", chromedp.ByID),
			chromedp.Click(`#ws-datasets input[value="patients"]`, chromedp.ByQuery),
			chromedp.Click(`#request-workspace button[type="submit"]`, chromedp.ByQuery))
		p.waitFor(`location.hash === '#/workspaces/frailty-2027' && document.querySelector('main h1') && document.querySelector('main h1').textContent.includes('frailty-2027')`)
		if n := eval[int](p, `document.querySelectorAll('button[data-verdict]').length`); n != 0 {
			t.Errorf("the requester is offered %d decision buttons on their own request", n)
		}

		c := b.signIn(t, "controller-gp")
		c.open("#/")
		if home := c.text("main"); !strings.Contains(home, "frailty-2027") {
			t.Errorf("controller's home does not list the request: %q", home)
		}
		c.open("#/workspaces/frailty-2027")
		c.accessible("workspace page before approval")
		c.run(chromedp.Click(`button[data-dataset="patients"][data-verdict="approved"]`, chromedp.ByQuery))
		c.waitFor(`document.querySelector('#status').textContent.includes('patients approved')`)
		c.waitFor(`[...document.querySelectorAll('main td')].some(td => td.textContent === 'approved')`)
		c.accessible("workspace page")
		c.shot("controller-approval")
		st, body := newClient(t, m, "analyst1").do("GET", "/api/v1/workspaces/frailty-2027", nil, "")
		if st != 200 || body["state"] != "active" {
			t.Errorf("after the only controller approved: %d %v", st, body["state"])
		}

		// A refusal needs a reason, which the page asks for before sending anything.
		if st, body := newClient(t, m, "analyst1").do("POST", "/api/v1/workspaces", map[string]any{"id": "carers-2027", "name": "carers-2027",
			"purpose": "Carers' support.", "agreement": "demo-planning", "datasets": []map[string]any{{"dataset": "social_care"}},
			"end_date": time.Now().Add(90 * 24 * time.Hour).Format(time.RFC3339)}, ""); st != 201 {
			t.Fatalf("second request: %d %v", st, body)
		}
		la := b.signIn(t, "controller-la")
		la.open("#/workspaces/carers-2027")
		refuse := `button[data-dataset="social_care"][data-verdict="refused"]`
		la.run(chromedp.Click(refuse, chromedp.ByQuery))
		la.waitFor(`[...document.querySelectorAll('main .alert')].some(a => a.textContent.includes('Give a reason'))`)
		la.run(chromedp.SendKeys("#decision-reason", "Purpose does not need person-level social care data.", chromedp.ByID),
			chromedp.Click(refuse, chromedp.ByQuery))
		la.waitFor(`document.querySelector('#status').textContent.includes('social_care refused')`)
		la.waitFor(`[...document.querySelectorAll('main td')].some(td => td.textContent === 'Purpose does not need person-level social care data.')`)
	})

	t.Run("controllers create and sign an agreement and confirm a member", func(t *testing.T) {
		gp := b.signIn(t, "controller-gp")
		gp.open("#/agreements/new")
		gp.accessible("new agreement form")
		title := "Frailty pathway evaluation"
		gp.run(chromedp.SendKeys("#ag-title", title, chromedp.ByID),
			chromedp.SendKeys("#ag-purpose", "Evaluate the frailty pathway across primary and social care.", chromedp.ByID),
			chromedp.Click(`input[value="RVLA"]`, chromedp.ByQuery),
			chromedp.Click(`input[value="patients"]`, chromedp.ByQuery),
			chromedp.Click(`input[value="social_care"]`, chromedp.ByQuery),
			chromedp.SendKeys("#ag-escalation", "IG group, ig@rvicb.example", chromedp.ByID),
			chromedp.Click(`main form button[type="submit"]`, chromedp.ByQuery))
		gp.waitFor(`location.hash === '#/agreements' && document.querySelector('#status').textContent.includes('Created')`)
		row := `//tr[contains(., "` + title + `")]`
		gp.waitFor(`document.evaluate(` + jsString(row+`//button[@data-sign]`) + `, document, null, 9, null).singleNodeValue !== null`)
		gp.run(chromedp.Click(row+`//button[@data-sign]`, chromedp.BySearch))
		gp.waitFor(`document.querySelector('#status').textContent.includes('Signed')`)

		la := b.signIn(t, "controller-la")
		la.open("#/agreements")
		la.run(chromedp.Click(row+`//button[@data-sign]`, chromedp.BySearch))
		la.waitFor(`document.querySelector('#status').textContent.includes('Signed')`)
		la.waitFor(`document.evaluate(` + jsString(row) + `, document, null, 9, null).singleNodeValue.textContent.includes('in force')`)
		la.accessible("agreements")
		la.shot("controller-agreements")

		// Membership review: the controller re-confirms the analyst's access to their data.
		gp.open("#/workspaces/demo")
		gp.run(chromedp.Click(`button[data-confirm="analyst1"]`, chromedp.ByQuery))
		gp.waitFor(`document.querySelector('#status').textContent.includes('Confirmed analyst1')`)
		// The history (newest first) records who confirmed whom.
		gp.waitFor(`(r => r && r.textContent.includes('controller-gp') && r.textContent.includes('analyst1'))([...document.querySelectorAll('main h2')].find(h => h.textContent === 'History').nextElementSibling.querySelector('tbody tr'))`)
	})

	t.Run("two checkers review a held output and the requester downloads it", func(t *testing.T) {
		api := newClient(t, m, "analyst1")
		if st, body := api.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": "SELECT ethnic_group, count(*) AS n FROM patients GROUP BY ethnic_group"}, ""); st != 200 {
			t.Fatalf("first query = %d %v", st, body)
		}
		st, body := api.do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": "SELECT ethnic_group, count(*) AS n FROM patients WHERE birth_month <> DATE '1950-03-01' GROUP BY ethnic_group"}, "")
		if st != 200 || body["status"] != "review" {
			t.Fatalf("flagged query = %d %v", st, body)
		}
		rel := body["release_id"].(string)
		section := `section[data-release="` + rel + `"]`
		for i, user := range []string{"checker1", "checker2"} {
			p := b.signIn(t, user)
			p.open("#/reviews")
			p.accessible("review queue")
			p.run(chromedp.WaitVisible(section, chromedp.ByQuery))
			if i == 1 {
				p.accessible("review queue")
				p.shot("checker-review") // with the first checker's review shown
			}
			p.run(
				chromedp.SendKeys(section+" textarea", "Checked by "+user+": differences are structural.", chromedp.ByQuery),
				chromedp.Click(section+` button[data-verdict="approved"]`, chromedp.ByQuery))
			want := []string{"now review", "now released"}[i]
			p.waitFor(`document.querySelector('#status').textContent.includes(` + jsString(want) + `)`)
			if i == 0 {
				// A checker's queue no longer offers what they have reviewed.
				p.open("#/reviews")
				if eval[int](p, `document.querySelectorAll('`+section+`').length`) != 0 {
					t.Error("a checker is offered the same output again")
				}
			}
		}
		p := analyst.with(t)
		p.open("#/workspaces/demo/query")
		p.waitFor(`[...document.querySelectorAll('#history tr')].some(tr => tr.textContent.includes("1950-03-01") && tr.textContent.includes('released'))`)
		p.run(chromedp.Click(`//tr[contains(., "1950-03-01")]//button`, chromedp.BySearch), chromedp.WaitVisible(`#result a[download]`, chromedp.ByQuery))
		href := eval[string](p, `document.querySelector('#result a[download]').getAttribute('href')`)
		if csv := p.fetchText(href); !strings.HasPrefix(csv, "200\n") || !strings.Contains(csv, "ethnic_group,n\n") || strings.Count(csv, "\n") < 4 {
			t.Errorf("released download = %q", csv)
		}
	})

	t.Run("planner opens a dashboard with rendered charts", func(t *testing.T) {
		p := b.signIn(t, "planner1")
		p.open("#/dashboards")
		p.run(chromedp.Click(`main a[href*="/dashboards/"]`, chromedp.ByQuery))
		p.waitFor(`document.querySelectorAll('.chart svg').length === 3`)
		// Marks: bars and the line are SVG paths the chart library drew from released values.
		p.waitFor(`[...document.querySelectorAll('.chart svg')].every(s => s.querySelectorAll('path').length > 5)`)
		if legend := p.text("figure figcaption"); !strings.Contains(legend, "suppressed") {
			t.Errorf("chart legend = %q", legend)
		}
		p.accessible("dashboard")
		p.shot("planner-dashboard")
		p.watchCSP()
		// Mark the charts drawn now, so the wait below sees the redrawn ones.
		p.run(chromedp.Evaluate(`document.querySelectorAll('.chart').forEach(c => c.dataset.old = '1')`, nil),
			chromedp.Click("#refresh", chromedp.ByID))
		p.waitFor(`document.querySelector('#status').textContent.includes('Refreshed')`)
		p.waitFor(`document.querySelectorAll('.chart').length === 3 && !document.querySelector('.chart[data-old]') && document.querySelectorAll('.chart svg path').length > 15`)
		// The tooltip is the chart library's only markup with style attributes.
		p.waitFor(`(s => !!s && (r => s.dispatchEvent(new MouseEvent('mousemove', {bubbles: true, clientX: r.x + r.width / 2, clientY: r.y + r.height / 2})))(s.getBoundingClientRect()))(document.querySelector('.chart svg'))`)
		p.waitFor(`document.querySelectorAll('.chart svg').length === 3`)
		if v := p.cspViolations(); len(v) > 0 {
			t.Errorf("the dashboard breaks its content-security policy: %v", v)
		}
		// The release history keeps every refresh: three panels, at start-up and now.
		p.waitFor(`document.querySelectorAll('#release-history tbody tr').length === 6`)
		href := eval[string](p, `document.querySelector('.panel a[download]').getAttribute('href')`)
		if csv := p.fetchText(href); !strings.HasPrefix(csv, "200\nattachment;") || !strings.Contains(csv, "imd_decile,people") {
			t.Errorf("panel CSV = %q", csv)
		}
	})

	t.Run("keyboard: the skip link keeps the page; sign-out ends the session", func(t *testing.T) {
		p := b.signIn(t, "planner1")
		p.open("#/dashboards")
		p.run(chromedp.Focus("a.skip", chromedp.ByQuery), chromedp.KeyEvent("\r"))
		if got := eval[string](p, `location.hash + ' ' + document.activeElement.tagName + ' ' + document.querySelector('main h1').textContent`); got != "#/dashboards H1 Dashboards" {
			t.Errorf("after the skip link: %q", got)
		}
		p.run(chromedp.Click("#sign-out", chromedp.ByID), chromedp.WaitVisible("#sign-in", chromedp.ByID))
		// The old session is gone: the API answers 401 to this browser now.
		if got := p.fetchText("/api/v1/me"); !strings.HasPrefix(got, "401\n") {
			t.Errorf("after sign-out /api/v1/me = %q", got)
		}
	})

	t.Run("controller uploads a version and reads the ingest report and usage", func(t *testing.T) {
		src := t.TempDir()
		if _, err := synth.Generate(context.Background(), synth.Options{Seed: 5, People: 300, Out: src}); err != nil {
			t.Fatal(err)
		}
		p := b.signIn(t, "controller-gp")
		p.open("#/datasets/gp_events")
		p.accessible("dataset page")
		p.run(chromedp.SetUploadFiles("#upload-file", []string{filepath.Join(src, "gp_events.csv")}, chromedp.ByID),
			chromedp.Click(`#upload button[type="submit"]`, chromedp.ByQuery),
			chromedp.WaitVisible(".ingest-report", chromedp.ByQuery))
		if rep := p.text(".ingest-report"); !strings.Contains(rep, "Stored version 2") || !strings.Contains(rep, "Quarantined rows") {
			t.Errorf("ingest report = %q", rep)
		}
		p.waitFor(`document.querySelector('#versions').textContent.includes('v2')`)
		if prog := p.text("#upload-out .progress"); prog == "" {
			t.Error("no progress shown")
		}
		if use := p.text("#usage-h + p + table"); !strings.Contains(use, "demo") || !strings.Contains(use, "analyst1") {
			t.Errorf("usage = %q", use)
		}
		p.accessible("dataset page after an upload")
		p.shot("controller-upload")
		// Another organisation's controller gets no upload form for it.
		o := b.signIn(t, "controller-la")
		o.open("#/datasets/gp_events")
		if h1, alerts := o.text("main h1"), eval[int](o, `document.querySelectorAll('main .alert').length`); h1 != "GP coded events for long-term conditions" || alerts != 0 {
			t.Errorf("another organisation's controller sees %q with %d alerts", h1, alerts)
		}
		if n := eval[int](o, `document.querySelectorAll('#upload').length`); n != 0 {
			t.Error("a controller of another organisation is offered the upload form")
		}
	})
}
