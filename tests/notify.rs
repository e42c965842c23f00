//! The Discord webhook client against a fake Discord: request shape, 204,
//! 429 with Retry-After, refusals, and the webhook URL never shown.

#[path = "fakes/discord.rs"]
mod discord_fake;

use std::path::Path;

use discord_fake::{FakeDiscord, WEBHOOK_TOKEN};
use mc_gitops::notify::{Discord, Event, NotifyError, content};
use mc_gitops::secret::Secret;

fn desired() -> mc_gitops::repo::Desired {
    mc_gitops::repo::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("state-repo-example"))
        .unwrap()
        .desired
}

#[tokio::test]
async fn a_post_has_discords_shape_and_no_mentions() {
    let fake = FakeDiscord::start().await;
    let d = Discord::new(&Secret::new(fake.url())).unwrap();
    let text = content(&desired(), Event::Ready, "");
    d.post(&text).await.unwrap();
    let posts = fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["content"], text);
    assert!(text.contains("mc.grove.place") && text.contains("grove"), "{text}");
    assert_eq!(posts[0]["allowed_mentions"]["parse"], serde_json::json!([]));
    assert_eq!(fake.content_types(), ["application/json"]);
}

#[tokio::test]
async fn a_429_is_waited_out_and_retried() {
    let fake = FakeDiscord::start().await;
    fake.then_answer(&[429]);
    let d = Discord::new(&Secret::new(fake.url())).unwrap();
    d.post("hello").await.unwrap();
    assert_eq!(fake.posts().len(), 1);
    assert_eq!(fake.content_types().len(), 2, "one 429, one delivered");
}

#[tokio::test]
async fn a_refusal_is_an_error_that_never_shows_the_url() {
    let fake = FakeDiscord::start().await;
    fake.then_answer(&[404]);
    let d = Discord::new(&Secret::new(fake.url())).unwrap();
    let e = d.post("hello").await.unwrap_err();
    assert!(matches!(e, NotifyError::Refused { status: 404 }), "{e:?}");
    let all = format!("{e} {e:?} {d:?} {}", mc_gitops::error::render_error(&e));
    assert!(!all.contains(WEBHOOK_TOKEN) && !all.contains("/api/webhooks"), "{all}");

    // Nobody listening: a transport error, still without the URL.
    let gone = Discord::new(&Secret::new(format!("http://127.0.0.1:9/api/webhooks/1/{WEBHOOK_TOKEN}"))).unwrap();
    let e = gone.post("hello").await.unwrap_err();
    let all = format!("{e} {e:?} {}", mc_gitops::error::render_error(&e));
    assert!(!all.contains(WEBHOOK_TOKEN), "{all}");
}

#[test]
fn a_webhook_that_is_not_a_url_is_refused_without_echoing_it() {
    let e = Discord::new(&Secret::new("discord.com/api/webhooks/1/abc-secret")).unwrap_err();
    assert!(!e.to_string().contains("abc-secret"));
}

/// Break 5 of issue 11: a stop was posted as "idle" whatever caused it; the
/// post now says the reason the session file records.
#[test]
fn a_stop_post_says_why_the_session_ended() {
    use mc_gitops::lifecycle::EndReason;
    let d = desired();
    let post = |r| {
        let (event, detail) = mc_gitops::notify::ended(r);
        content(&d, event, &detail)
    };
    assert!(post(EndReason::Budget).contains("budget is reached"));
    assert!(post(EndReason::Crash).contains("Minecraft kept crashing"));
    for (r, says) in [
        (EndReason::Idle, "(idle: nobody played through idle and suspend)"),
        (EndReason::Admin, "(admin: state = \"stopped\" in server.toml)"),
        (EndReason::MaxSession, "(max-session: the session reached lifecycle.max_session)"),
        (EndReason::Drift, "(drift: the server disappeared)"),
    ] {
        let text = post(r);
        assert!(text.contains("**grove** stopped") && text.contains(says), "{text}");
    }
}

#[tokio::test]
async fn exists_reads_the_webhook_without_posting_and_404_once_deleted() {
    let fake = FakeDiscord::start().await;
    let d = Discord::new(&Secret::new(fake.url())).unwrap();
    assert_eq!(d.exists().await.unwrap(), "Grove bot");
    fake.delete_webhook();
    let err = d.exists().await.unwrap_err();
    assert!(matches!(err, NotifyError::Refused { status: 404 }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(WEBHOOK_TOKEN));
    assert_eq!(fake.gets(), 2);
    assert!(fake.posts().is_empty(), "nothing was posted");
}

#[tokio::test]
async fn exists_with_another_token_is_401() {
    let fake = FakeDiscord::start().await;
    let wrong = Discord::new(&Secret::new(fake.url().replace(WEBHOOK_TOKEN, "another-token"))).unwrap();
    let err = wrong.exists().await.unwrap_err();
    assert!(matches!(err, NotifyError::Refused { status: 401 }), "{err:?}");
}
