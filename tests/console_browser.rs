//! The journeys a reviewer and an admin make in the console, in headless Chromium driven over
//! WebDriver: against the API's router on a real port, a real SQLite store and, for the
//! reinstatement, a real broker (tansu) that the outbox delivers to. Needs `chromedriver`
//! (Debian `chromium` and `chromium-driver`); skipped with a note without it, unless
//! `WARDEN_REQUIRE_BROWSER=1` (as in CI). A failed journey leaves a screenshot in
//! `target/console-screenshots/`.

mod common;
#[path = "common/console.rs"]
mod harness;

use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use warden::config::ApiConfig;
use warden::store::{Actor, CaseId, CaseStatus};

use common::kafka::{Broker, TopicNames};
use harness::{ALICE, BOB, Browser, Console, ROOT};

/// How long a page may take to show what a step expects.
const PATIENCE: Duration = Duration::from_secs(15);

async fn sign_in(client: &Client, base: &str, token: &str) {
    client
        .goto(&format!("{base}/console/sign-in"))
        .await
        .unwrap();
    let field = client.find(Locator::Id("token")).await.unwrap();
    field.send_keys(token).await.unwrap();
    field
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();
    wait_for_path(client, "/console/queue").await;
}

async fn wait_for_path(client: &Client, path: &str) {
    let started = std::time::Instant::now();
    loop {
        let url = client.current_url().await.unwrap();
        if url.path() == path {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "still at {url}, waiting for {path}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The text of the element at `css`, once it holds `wanted`.
async fn wait_for_text(client: &Client, css: &str, wanted: &str) -> String {
    let started = std::time::Instant::now();
    loop {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
            && text.contains(wanted)
        {
            return text;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "{css} never showed {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn click(client: &Client, css: &str) {
    client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn type_into(client: &Client, css: &str, text: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .send_keys(text)
        .await
        .unwrap();
}

async fn queue_case_ids(client: &Client) -> Vec<String> {
    let mut ids = Vec::new();
    for link in client
        .find_all(Locator::Css("tr.case td:first-child a"))
        .await
        .unwrap()
    {
        ids.push(link.text().await.unwrap());
    }
    ids
}

/// Presses keys one after another, as a person at the keyboard.
async fn press(client: &Client, keys: &[char]) {
    let mut actions = KeyActions::new("keyboard".into());
    for &key in keys {
        actions = actions
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
    }
    client.perform_actions(actions).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_overturns_an_appeal_and_the_broker_hears_the_reinstatement_by_them() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let topics = TopicNames::prefixed("console");
    let address = broker.address();
    let created = topics.clone();
    tokio::task::spawn_blocking(move || created.create(&address, 1))
        .await
        .unwrap()
        .expect("topics");
    let console = Console::start(
        ApiConfig::default(),
        Some((broker.address(), topics.clone())),
    )
    .await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let appealed = console
        .appealed(
            "AC5001",
            "Your parcel is held: pay at royalmail-fees.top",
            "That was my own shop's delivery notice.",
        )
        .await;
    for account in ["AC5002", "AC5003"] {
        console
            .case(account, CaseStatus::InReview, "Claim your prize")
            .await;
    }
    let (client, base, case_id) = (
        browser.client.clone(),
        console.base.clone(),
        appealed.clone(),
    );
    browser
        .journey("overturn", async move {
            sign_in(&client, &base, ALICE).await;
            let waiting = queue_case_ids(&client).await;
            assert_eq!(waiting.len(), 3, "{waiting:?}");
            Browser::keep_screenshot(&client, "queue").await;
            assert!(waiting.contains(&case_id.to_string()));
            click(&client, &format!("a[href='/console/cases/{case_id}']")).await;
            wait_for_text(
                &client,
                "blockquote.statement",
                "my own shop's delivery notice",
            )
            .await;
            click(&client, "#claim-button").await;
            wait_for_text(&client, "#claim", "reviewer:alice").await;
            Browser::keep_screenshot(&client, "case").await;
            click(&client, "#overturn-form summary").await;
            type_into(
                &client,
                "#overturn-note",
                "The sender is the shop itself; the link is theirs.",
            )
            .await;
            click(&client, "#overturn-form input[name=confirm]").await;
            click(&client, "#overturn-form button[type=submit]").await;
            wait_for_path(&client, "/console/queue").await;
            let waiting = queue_case_ids(&client).await;
            assert_eq!(waiting.len(), 2, "{waiting:?}");
            assert!(!waiting.contains(&case_id.to_string()));
        })
        .await;
    browser.close().await;

    let case = console.store.case(&appealed).await.unwrap().unwrap();
    assert_eq!(case.status, CaseStatus::Overturned);
    let decisions = console.store.decisions(&appealed).await.unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].reviewer, Actor::Reviewer("alice".into()));
    let audit = console.store.audit_log(&case.account_id).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.actor == Actor::Reviewer("alice".into())
                && e.action == "overturn_and_reinstate"),
        "{audit:?}"
    );
    let actions_topic = topics.account_actions.clone();
    let reinstated = tokio::task::block_in_place(|| {
        let mut reader = broker.reader(&actions_topic);
        reader
            .read_until(
                PATIENCE,
                "the reinstatement on account-actions",
                |records| records.iter().any(|r| r.payload["action"] == "reinstate"),
            )
            .iter()
            .find(|r| r.payload["action"] == "reinstate")
            .map(|r| r.payload.clone())
            .unwrap()
    });
    assert_eq!(reinstated["account_id"], "AC5001");
    assert_eq!(reinstated["by"], "reviewer:alice");
    assert_eq!(reinstated["case_id"], appealed.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_reviewers_claim_stops_a_second_reviewer_with_a_clear_message() {
    let console = Console::start(ApiConfig::default(), None).await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (case_id, _) = console
        .case("AC5101", CaseStatus::InReview, "Claim your prize")
        .await;
    let response = reqwest::Client::new()
        .post(console.url(&format!("/v1/review/cases/{case_id}/claim")))
        .bearer_auth(BOB)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let (client, base, id) = (
        browser.client.clone(),
        console.base.clone(),
        case_id.clone(),
    );
    browser
        .journey("claimed-by-another", async move {
            sign_in(&client, &base, ALICE).await;
            client
                .goto(&format!("{base}/console/cases/{id}"))
                .await
                .unwrap();
            wait_for_text(&client, "#claim", "reviewer:bob").await;
            click(&client, "#claim-button").await;
            wait_for_text(&client, "p.error", "reviewer:bob holds this case").await;
            // Deciding anyway is refused the same way, and the page shows the case as it is.
            click(&client, "#uphold-form summary").await;
            type_into(&client, "#uphold-note", "Looks like a prize scam.").await;
            click(&client, "#uphold-form input[name=confirm]").await;
            click(&client, "#uphold-form button[type=submit]").await;
            wait_for_text(&client, "p.error", "reviewer:bob holds this case").await;
            wait_for_text(&client, "#status", "in_review").await;
        })
        .await;
    browser.close().await;
    assert!(console.store.decisions(&case_id).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_cannot_erase_evidence_under_a_legal_hold_and_can_once_it_is_lifted() {
    let console = Console::start(ApiConfig::default(), None).await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (case_id, _) = console
        .case("AC5201", CaseStatus::Suspended, "Claim your prize")
        .await;
    let (client, base) = (browser.client.clone(), console.base.clone());
    let store = console.store.clone();
    let evidence_of = move |store: warden::store::Store, case_id: CaseId| async move {
        store.evidence(&case_id).await.unwrap().len()
    };
    let (held_store, held_case) = (store.clone(), case_id.clone());
    browser
        .journey("erase-under-hold", async move {
            sign_in(&client, &base, ROOT).await;
            click(&client, "nav a[href='/console/accounts']").await;
            type_into(&client, "#account_id", "AC5201").await;
            click(&client, "form.find button").await;
            wait_for_path(&client, "/console/accounts/AC5201").await;
            type_into(
                &client,
                "#hold-reason",
                "Litigation 42: preserve everything",
            )
            .await;
            click(&client, "form[action$='/hold'] button").await;
            wait_for_text(&client, "#legal-hold", "Litigation 42").await;
            click(&client, "form[action$='/erase'] input[name=confirm]").await;
            click(&client, "#erase").await;
            wait_for_text(&client, "p.error", "under a legal hold: Litigation 42").await;
            assert_eq!(evidence_of(held_store.clone(), held_case.clone()).await, 1);
            click(&client, "#lift-hold").await;
            wait_for_text(&client, "#legal-hold", "none").await;
            click(&client, "form[action$='/erase'] input[name=confirm]").await;
            click(&client, "#erase").await;
            wait_for_text(&client, "#evidence-count", "0 excerpts").await;
        })
        .await;
    browser.close().await;
    assert!(store.evidence(&case_id).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_evidence_and_statements_render_as_text() {
    let console = Console::start(ApiConfig::default(), None).await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let excerpt =
        "<script>window.pwned=1</script>\"><img src=x onerror=\"window.pwned=2\"> \u{202E}gnp.exe";
    let statement = "</blockquote><script>window.pwned=3</script><b onmouseover=alert(1)>hi</b>";
    let case_id = console.appealed("AC5301", excerpt, statement).await;
    let (client, base) = (browser.client.clone(), console.base.clone());
    browser
        .journey("hostile-text", async move {
            sign_in(&client, &base, ALICE).await;
            client
                .goto(&format!("{base}/console/cases/{case_id}"))
                .await
                .unwrap();
            wait_for_text(&client, "blockquote.statement", "window.pwned=3").await;
            let read = |css: &'static str| {
                let client = client.clone();
                async move {
                    let script = format!("return document.querySelector('{css}').textContent");
                    client.execute(&script, vec![]).await.unwrap()
                }
            };
            assert_eq!(read("blockquote.excerpt").await, excerpt);
            assert_eq!(read("blockquote.statement").await, statement);
            let page = client
                .execute(
                    "return [typeof window.pwned, document.scripts.length, document.images.length, \
                     document.querySelectorAll('b, [onerror], [onmouseover]').length]",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(page, serde_json::json!(["undefined", 1, 0, 0]));
        })
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_works_from_the_keyboard_alone() {
    let console = Console::start(ApiConfig::default(), None).await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (case_id, _) = console
        .case("AC5401", CaseStatus::InReview, "Claim your prize")
        .await;
    let (client, base, id) = (
        browser.client.clone(),
        console.base.clone(),
        case_id.clone(),
    );
    browser
        .journey("keyboard", async move {
            sign_in(&client, &base, ALICE).await;
            press(&client, &['j', char::from(Key::Enter)]).await;
            wait_for_path(&client, &format!("/console/cases/{id}")).await;
            press(&client, &['c']).await;
            wait_for_text(&client, "#claim", "reviewer:alice").await;
            press(&client, &['u']).await;
            // `u` opened the uphold form with its note focused: type, tick, send.
            let mut keys: Vec<char> = "Prize scam, same as the last three.".chars().collect();
            keys.extend([
                char::from(Key::Tab),
                ' ',
                char::from(Key::Tab),
                char::from(Key::Enter),
            ]);
            press(&client, &keys).await;
            wait_for_path(&client, "/console/queue").await;
            assert!(queue_case_ids(&client).await.is_empty());
        })
        .await;
    browser.close().await;
    let decisions = console.store.decisions(&case_id).await.unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].note, "Prize scam, same as the last three.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_in_dark_mode_the_pages_fit_the_screen_and_are_dark() {
    let console = Console::start(ApiConfig::default(), None).await;
    let phone = [
        "--window-size=390,844",
        "--force-dark-mode",
        "--blink-settings=preferredColorScheme=0",
    ];
    let Some(browser) = Browser::start_with(&phone).await else {
        return;
    };
    let (case_id, _) = console
        .case("AC5501", CaseStatus::InReview, "A long excerpt: pay the outstanding customs fee of £2.99 today at royalmail-customs-fees-uk.top/parcel/8f3a9c or your parcel is returned")
        .await;
    let (client, base) = (browser.client.clone(), console.base.clone());
    browser
        .journey("phone-dark", async move {
            sign_in(&client, &base, ALICE).await;
            for path in [
                "/console/queue".to_owned(),
                format!("/console/cases/{case_id}"),
                "/console/overview".to_owned(),
            ] {
                client.goto(&format!("{base}{path}")).await.unwrap();
                client
                    .wait()
                    .at_most(PATIENCE)
                    .for_element(Locator::Css("main h1"))
                    .await
                    .unwrap();
                let fit = client
                    .execute(
                        "return [document.documentElement.scrollWidth, window.innerWidth, \
                         window.matchMedia('(prefers-color-scheme: dark)').matches, \
                         getComputedStyle(document.body).backgroundColor]",
                        vec![],
                    )
                    .await
                    .unwrap();
                let (scroll, width) = (fit[0].as_i64().unwrap(), fit[1].as_i64().unwrap());
                assert!(
                    scroll <= width,
                    "{path}: {scroll} px wide in a {width} px screen"
                );
                assert_eq!(fit[2], true, "{path}: the browser was not in dark mode");
                assert_eq!(fit[3], "rgb(20, 23, 27)", "{path}: not the dark background");
            }
        })
        .await;
    browser.close().await;
}
