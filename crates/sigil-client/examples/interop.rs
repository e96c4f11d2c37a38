//! Interop, the Rust path: sigil-client gets a token from a running `sigil serve`, and
//! sigil-verify's `RemoteJwks` + `Verifier` check it against the server's `/jwks`, with the
//! algorithm pinned and `iss`/`aud` the base URL's origin. Run by `interop/run.sh` for each
//! algorithm.
//!
//! ```text
//! BASE_URL=http://127.0.0.1:3000 ALG=ES256 cargo run -p sigil-client --example interop
//! ```
//!
//! Exit 0 and one `ok:` line when the token verifies; non-zero with the reason otherwise.

use sigil_client::AuthClient;
use sigil_verify::{Alg, RemoteJwks, Verifier};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base_url = std::env::var("BASE_URL").map_err(|_| anyhow::anyhow!("BASE_URL is not set"))?;
    let alg: Alg = std::env::var("ALG")
        .map_err(|_| anyhow::anyhow!("ALG is not set"))?
        .parse()
        .map_err(|_| anyhow::anyhow!("ALG is not a supported algorithm"))?;
    let origin = url::Url::parse(&base_url)?.origin().ascii_serialization();

    let client = AuthClient::new(&base_url)?;
    let email = format!("rust-{alg}-{}@example.com", std::process::id());
    let signed_up = client
        .sign_up_email("Rust", &email, "correct horse battery")
        .await?;
    let token = client.token().await?;
    // The cache hands the same token back without asking the server again.
    anyhow::ensure!(client.token().await?.as_str() == token.as_str());

    let keys = RemoteJwks::new(&format!("{base_url}/api/auth/jwks"))?;
    let verifier = Verifier::builder(keys)
        .alg(alg)
        .issuer(&origin)
        .audience(&origin)
        .build()?;
    let claims = verifier.verify_claims(token.as_str()).await?;
    anyhow::ensure!(
        claims.sub.as_deref() == Some(signed_up.user.id.as_str()),
        "sub is not the signed-up user"
    );
    // The key set the client reads is the one the verifier used.
    anyhow::ensure!(!client.jwks().await?.is_empty(), "empty key set");
    client.sign_out().await?;
    println!("ok: sigil-client got an {alg} token; sigil-verify (RemoteJwks) accepted it");
    Ok(())
}
