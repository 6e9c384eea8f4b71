//! A real browser for the web UI's end-to-end tests: headless Chromium driven over WebDriver.
//!
//! Why: the web UI is server-rendered HTML that caseworkers use with a mouse, with the keyboard
//! only and with screen readers. Asserting on HTML strings cannot tell that a label is tied to
//! its field, that a button can be reached with Tab, or that a form submits in a browser; this
//! does, and [`Browser::axe`] runs the axe-core accessibility rules (WCAG 2.1 A and AA) on the
//! page as rendered.
//!
//! What it needs, all installed by `make test` and nothing downloaded at run time:
//! - Debian's `chromium` and `chromium-driver` ([`CHROMIUM`], [`CHROMEDRIVER`]), installed by
//!   `scripts/test.sh` when absent;
//! - axe-core, pinned in the Makefile and installed into `.tools/npm` by `make tools`
//!   ([`AXE_SCRIPT`], relative to the project folder).
//!
//! Each [`Browser`] is its own chromedriver (on a free port, in its own process group) and its
//! own Chromium with a fresh profile, so tests run in parallel without sharing cookies. Dropping
//! it kills both; [`Browser::close`] ends the session politely first. Every helper panics with
//! a message saying what it looked for, which is what a test wants.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::{Element, ElementRef};
use fantoccini::key::Key;
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};

/// Debian's Chromium (package `chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver (package `chromium-driver`), of the same version as [`CHROMIUM`].
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// axe-core's browser bundle, relative to the project folder (installed by `make tools`).
pub const AXE_SCRIPT: &str = ".tools/npm/node_modules/axe-core/axe.min.js";

/// The axe rule sets every page must pass: WCAG 2.0 and 2.1, levels A and AA.
pub const AXE_TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// How long to wait for chromedriver to listen, and for [`Browser::wait_for_text`].
const WAIT: Duration = Duration::from_secs(30);

/// Chromium's flags. The background-networking ones matter: on a closed network Chromium's own
/// connections (updates, sync, field trials) are refused, which slows or breaks start-up.
const CHROMIUM_ARGS: [&str; 10] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
];

/// The W3C key under which WebDriver returns a DOM element from a script.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// JavaScript shared by the lookups: whitespace-normalised rendered text of an element.
const NORM_JS: &str = "const norm = s => (s || '').replace(/\\s+/g, ' ').trim();
const textOf = e => norm(e.innerText) || norm(e.textContent);
const visible = e => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);";

/// A headless Chromium session and the chromedriver that runs it. See the module docs.
pub struct Browser {
    client: Option<Client>,
    driver: Child,
    /// Chromium's `--user-data-dir`, removed on drop (after the processes are killed).
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port, waits until it answers, and opens a headless
    /// Chromium session with a fresh profile.
    pub async fn start() -> Browser {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(path).is_file(),
                "{path} is not installed: run `make test`, or \
                 `bash scripts/apt-install.sh chromium chromium-driver`"
            );
        }
        let profile = tempfile::Builder::new()
            .prefix("homeward-chromium.")
            .tempdir()
            .expect("create a Chromium profile folder");
        let port = homeward::devserver::free_port().expect("find a free port for chromedriver");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that drop can kill Chromium (its child) with it.
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let mut browser = Browser {
            client: None,
            driver,
            profile,
        };
        browser.wait_for_driver(port).await;

        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!(
            "--user-data-dir={}",
            browser.profile.path().display()
        ));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("open a Chromium session through chromedriver");
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(Duration::from_secs(60)), // scripts: axe on a long page
                Some(Duration::from_secs(60)), // page loads
                Some(Duration::ZERO),          // no implicit waits: helpers wait explicitly
            ))
            .await
            .expect("set WebDriver timeouts");
        browser.client = Some(client);
        browser
    }

    async fn wait_for_driver(&mut self, port: u16) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.driver.try_wait().expect("poll chromedriver") {
                panic!("chromedriver exited before it listened: {status}");
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {port} within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The WebDriver client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("the browser session is open")
    }

    /// Opens `url` and waits until it has loaded.
    pub async fn goto(&self, url: &str) {
        self.client()
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The address of the page shown now.
    pub async fn current_url(&self) -> url::Url {
        self.client()
            .current_url()
            .await
            .expect("read the current URL")
    }

    /// The page's rendered text (what `<body>` shows, as `innerText`). While a page is being
    /// replaced by the next (a form just submitted), the old `<body>` goes stale: read again.
    pub async fn text(&self) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let read = async { self.client().find(Locator::Css("body")).await?.text().await };
            match read.await {
                Ok(text) => return text,
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!(error = %e, "the page changed while being read; again");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("read the page's text: {e}"),
            }
        }
    }

    /// The page's HTML as the browser has it now.
    pub async fn html(&self) -> String {
        self.client().source().await.expect("read the page's HTML")
    }

    /// Waits (up to 30 s) until the page's text contains `needle`; returns the text.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "the page never showed {needle:?}; it shows:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The form control named by the `<label>` whose text is `label` (whitespace-normalised; an
    /// exact match, else the one label that starts with it), through the label's `for`
    /// attribute. Panics when there is none, more than one, or the label is not tied to an
    /// `<input>`, `<select>` or `<textarea>`.
    pub async fn field(&self, label: &str) -> Element {
        let script = format!(
            "{NORM_JS}
            const want = norm(arguments[0]);
            const labels = Array.from(document.querySelectorAll('label'));
            let hits = labels.filter(l => textOf(l) === want || norm(l.textContent) === want);
            if (hits.length === 0) hits = labels.filter(l => textOf(l).startsWith(want));
            if (hits.length !== 1) {{
              return (hits.length ? 'more than one label reads ' : 'no label reads ')
                + JSON.stringify(want) + '; the labels are: '
                + JSON.stringify(labels.map(textOf));
            }}
            const id = hits[0].getAttribute('for');
            if (!id) return 'the label ' + JSON.stringify(want) + ' has no for attribute';
            const control = document.getElementById(id);
            if (!control) return 'the label ' + JSON.stringify(want) + ' is for #' + id
              + ', which does not exist';
            if (!['INPUT', 'SELECT', 'TEXTAREA'].includes(control.tagName)) {{
              return 'the label ' + JSON.stringify(want) + ' is for a <'
                + control.tagName.toLowerCase() + '>, not a form control';
            }}
            return control;"
        );
        self.script_element(&script, vec![json!(label)]).await
    }

    /// Types `value` into the field labelled `label` (see [`Browser::field`]), replacing what
    /// it held. A `<select>` gets the option whose text is `value`; date, time, colour and
    /// range inputs (whose typing depends on the locale) get their value set directly, with
    /// `input` and `change` events.
    pub async fn fill(&self, label: &str, value: &str) {
        let field = self.field(label).await;
        let tag = field.tag_name().await.expect("read a field's tag");
        if tag.eq_ignore_ascii_case("select") {
            return self.choose_option(&field, label, value).await;
        }
        let kind = field
            .attr("type")
            .await
            .expect("read a field's type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if [
            "date",
            "time",
            "datetime-local",
            "month",
            "week",
            "color",
            "range",
        ]
        .contains(&kind.as_str())
        {
            self.client()
                .execute(
                    "const [e, v] = arguments; e.value = v;
                     e.dispatchEvent(new Event('input', {bubbles: true}));
                     e.dispatchEvent(new Event('change', {bubbles: true}));",
                    vec![element_json(&field), json!(value)],
                )
                .await
                .unwrap_or_else(|e| panic!("set {label:?} to {value:?}: {e}"));
            return;
        }
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {label:?}: {e}"));
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into {label:?}: {e}"));
    }

    /// Chooses the option whose text is `option` in the `<select>` labelled `label`.
    pub async fn select(&self, label: &str, option: &str) {
        let field = self.field(label).await;
        let tag = field.tag_name().await.expect("read a field's tag");
        assert!(
            tag.eq_ignore_ascii_case("select"),
            "{label:?} labels a <{tag}>, not a <select>"
        );
        self.choose_option(&field, label, option).await;
    }

    async fn choose_option(&self, select: &Element, label: &str, option: &str) {
        let script = format!(
            "{NORM_JS}
            const [select, want] = arguments;
            const options = Array.from(select.options);
            const hit = options.find(o => norm(o.text) === norm(want));
            return hit || ('no option reads ' + JSON.stringify(want) + ' in '
              + JSON.stringify(arguments[2]) + '; the options are: '
              + JSON.stringify(options.map(o => norm(o.text))));"
        );
        let args = vec![element_json(select), json!(option), json!(label)];
        let hit = self.script_element(&script, args).await;
        hit.click()
            .await
            .unwrap_or_else(|e| panic!("choose {option:?} in {label:?}: {e}"));
    }

    /// Ticks the checkbox, or chooses the radio button, labelled `label` (clicks it unless it
    /// is already selected), and checks that it is selected.
    pub async fn check(&self, label: &str) {
        let field = self.field(label).await;
        let kind = field.attr("type").await.expect("read a field's type");
        assert!(
            matches!(kind.as_deref(), Some("checkbox" | "radio")),
            "{label:?} labels an input of type {kind:?}, not a checkbox or radio button"
        );
        if !field.is_selected().await.expect("read a checkbox's state") {
            field
                .click()
                .await
                .unwrap_or_else(|e| panic!("click {label:?}: {e}"));
        }
        assert!(
            field.is_selected().await.expect("read a checkbox's state"),
            "{label:?} is not selected after a click"
        );
    }

    /// Clicks the one visible button (`<button>`, `<input type=submit|button|reset>` or
    /// `role=button`) whose text (or value) is `text`, and waits for the page it loads.
    pub async fn click_button(&self, text: &str) {
        let script = format!(
            "{NORM_JS}
            const want = norm(arguments[0]);
            const all = Array.from(document.querySelectorAll(
              'button, input[type=submit], input[type=button], input[type=reset], [role=button]'))
              .filter(visible);
            const name = e => e.tagName === 'INPUT' ? norm(e.value) : textOf(e);
            const hits = all.filter(e => name(e) === want);
            if (hits.length === 1) return hits[0];
            return (hits.length ? 'more than one button reads ' : 'no button reads ')
              + JSON.stringify(want) + '; the buttons are: ' + JSON.stringify(all.map(name));"
        );
        let button = self.script_element(&script, vec![json!(text)]).await;
        button
            .click()
            .await
            .unwrap_or_else(|e| panic!("click the button {text:?}: {e}"));
    }

    /// Clicks the one visible link (`<a href>`) whose text is `text`, and waits for the page.
    pub async fn click_link(&self, text: &str) {
        let script = format!(
            "{NORM_JS}
            const want = norm(arguments[0]);
            const all = Array.from(document.querySelectorAll('a[href]')).filter(visible);
            const hits = all.filter(e => textOf(e) === want);
            if (hits.length === 1) return hits[0];
            return (hits.length ? 'more than one link reads ' : 'no link reads ')
              + JSON.stringify(want) + '; the links are: ' + JSON.stringify(all.map(textOf));"
        );
        let link = self.script_element(&script, vec![json!(text)]).await;
        link.click()
            .await
            .unwrap_or_else(|e| panic!("click the link {text:?}: {e}"));
    }

    /// Presses and releases `key` on the keyboard, as a user would: it goes to whatever has
    /// the focus (nothing is focused first).
    pub async fn press(&self, key: Key) {
        self.keys(&[char::from(key)]).await;
    }

    /// Presses Tab: focus moves to the next focusable element.
    pub async fn press_tab(&self) {
        self.press(Key::Tab).await;
    }

    /// Presses Shift+Tab: focus moves to the previous focusable element.
    pub async fn press_shift_tab(&self) {
        let (shift, tab) = (char::from(Key::Shift), char::from(Key::Tab));
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: shift })
            .then(KeyAction::Down { value: tab })
            .then(KeyAction::Up { value: tab })
            .then(KeyAction::Up { value: shift });
        self.perform(actions, "Shift+Tab").await;
    }

    /// Presses Enter (follows a focused link, submits a focused form or button).
    pub async fn press_enter(&self) {
        self.press(Key::Enter).await;
    }

    /// Presses the space bar (ticks a focused checkbox, presses a focused button).
    pub async fn press_space(&self) {
        self.press(Key::Space).await;
    }

    /// Types `text` on the keyboard into whatever has the focus.
    pub async fn type_text(&self, text: &str) {
        self.keys(&text.chars().collect::<Vec<_>>()).await;
    }

    async fn keys(&self, keys: &[char]) {
        let mut actions = KeyActions::new("keyboard".into());
        for &value in keys {
            actions = actions
                .then(KeyAction::Down { value })
                .then(KeyAction::Up { value });
        }
        self.perform(actions, &format!("{keys:?}")).await;
    }

    async fn perform(&self, actions: KeyActions, what: &str) {
        self.client()
            .perform_actions(actions)
            .await
            .unwrap_or_else(|e| panic!("press {what}: {e}"));
        self.client()
            .release_actions()
            .await
            .unwrap_or_else(|e| panic!("release keys after {what}: {e}"));
    }

    /// The element that has the focus now.
    pub async fn active_element(&self) -> Element {
        self.client()
            .active_element()
            .await
            .expect("find the focused element")
    }

    /// What a user sees of the focused element: its text, else the text of its label, else
    /// its `aria-label`, else its value (so a focused text field reads as its label).
    pub async fn active_element_text(&self) -> String {
        let script = format!(
            "{NORM_JS}
            const e = document.activeElement;
            if (!e || e === document.body) return '';
            const label = e.labels && e.labels.length ? textOf(e.labels[0]) : '';
            return (e.tagName === 'INPUT' || e.tagName === 'SELECT' || e.tagName === 'TEXTAREA'
                ? '' : textOf(e))
              || label || norm(e.getAttribute('aria-label')) || norm(e.value);"
        );
        match self.client().execute(&script, vec![]).await {
            Ok(Value::String(text)) => text,
            other => panic!("read the focused element's text: {other:?}"),
        }
    }

    /// Saves a PNG of the window to `<CARGO_TARGET_DIR or target>/ui-screenshots/<name>.png`
    /// and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client().screenshot().await.expect("take a screenshot");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target"));
        let dir = crate::support::project_dir()
            .join(target)
            .join("ui-screenshots");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{safe}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Runs axe-core's WCAG 2.0/2.1 A and AA rules ([`AXE_TAGS`]) on the page as it is now.
    /// One line per violated rule: `id: help (n nodes: first target)`; empty when it passes.
    pub async fn axe(&self) -> Vec<String> {
        let path = crate::support::project_dir().join(AXE_SCRIPT);
        let source = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "axe-core is not installed at {} ({e}): run `make tools`",
                path.display()
            )
        });
        // Evaluated as a WebDriver script, not a <script> element: a page's
        // Content-Security-Policy does not apply to it.
        let loaded = self
            .client()
            .execute(&format!("{source}\n;return typeof window.axe;"), vec![])
            .await
            .expect("inject axe-core");
        assert_eq!(loaded, json!("object"), "axe-core did not load");
        let result = self
            .client()
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {
                   runOnly: {type: 'tag', values: arguments[0]},
                   resultTypes: ['violations'],
                 }).then(
                   r => done(r.violations.map(v => ({
                     id: v.id, help: v.help, nodes: v.nodes.length,
                     target: v.nodes.length ? v.nodes[0].target.join(' ') : '',
                   }))),
                   e => done({error: String(e)}));",
                vec![json!(AXE_TAGS)],
            )
            .await
            .expect("run axe-core");
        let Value::Array(violations) = result else {
            panic!("axe-core failed: {result}");
        };
        violations
            .iter()
            .map(|v| {
                format!(
                    "{}: {} ({} nodes: {})",
                    v["id"].as_str().unwrap_or("?"),
                    v["help"].as_str().unwrap_or("?"),
                    v["nodes"],
                    v["target"].as_str().unwrap_or("?"),
                )
            })
            .collect()
    }

    /// Ends the session (Chromium quits), then stops chromedriver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            client.close().await.expect("close the browser session");
        }
        // Drop kills what is left and reaps chromedriver.
    }

    /// Runs `script`, which returns an element or a string saying why it found none.
    async fn script_element(&self, script: &str, args: Vec<Value>) -> Element {
        let found = self
            .client()
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("run a lookup script: {e}"));
        match found {
            Value::Object(map) if map.contains_key(ELEMENT_KEY) => {
                let id = map[ELEMENT_KEY]
                    .as_str()
                    .expect("an element reference is a string")
                    .to_owned();
                Element::from_element_id(self.client().clone(), ElementRef::from(id))
            }
            Value::String(why) => panic!("{why}"),
            other => panic!("a lookup script returned {other}"),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver leads its own process group, Chromium included: kill them all.
        let _ = killpg(Pid::from_raw(self.driver.id() as i32), Signal::SIGKILL);
        let _ = self.driver.wait();
    }
}

/// An element as a script argument.
fn element_json(element: &Element) -> Value {
    serde_json::to_value(element).expect("an element serialises")
}
