//! The example service chain (examples/service_chain.rs), run as a test: A calls B with a
//! `billing` token → 200 and B sees A's `sub`; a `reports` token is refused by B (401).

#[allow(dead_code)]
#[path = "../../examples/service_chain.rs"]
mod service_chain;

#[tokio::test]
async fn service_chain_with_audience_scoped_tokens() {
    let (url, dir) = service_chain::start_sigil().await.unwrap();
    let outcome = service_chain::run(&url).await;
    let _ = std::fs::remove_dir_all(dir);
    let outcome = outcome.unwrap();
    assert_eq!(outcome.order.0, 200, "{outcome:?}");
    assert_eq!(
        outcome.order.1["billing"]["charged_by"],
        outcome.user_id.as_str()
    );
    assert_eq!(outcome.wrong_audience, 401, "{outcome:?}");
}
