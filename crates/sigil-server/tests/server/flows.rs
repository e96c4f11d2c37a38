//! The happy paths: sign-up, sign-in, get-session by cookie and bearer, sign-out, expiry and
//! sliding refresh — byte-compatible with Better Auth's cookies.

use aws_lc_rs::hmac;
use base64::Engine as _;
use chrono::Duration;
use serde_json::{Value, json};

use crate::harness::{SECRET, TestServer, cookie_pair, engines, parse_time};

fn better_auth_signature(token: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, token.as_bytes()).as_ref())
}

fn encode_uri_component(s: &str) -> String {
    s.replace('%', "%25")
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

#[tokio::test]
async fn sign_up_sign_in_session_sign_out() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        let ok: Value = s.get("/ok").await.json().await.unwrap();
        assert_eq!(ok, json!({"ok": true}));

        // Sign-up: Better Auth's body, cookie and set-auth-token, byte for byte.
        let r = s.sign_up("Ada@Example.COM", "correct horse").await;
        assert_eq!(r.status(), 200, "{engine:?}");
        let set_auth_token = r.headers()["set-auth-token"].to_str().unwrap().to_owned();
        assert_eq!(
            r.headers()["access-control-expose-headers"],
            "set-auth-token"
        );
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        let body: Value = r.json().await.unwrap();
        let token = body["token"].as_str().unwrap().to_owned();
        assert_eq!(token.len(), 32);
        let signed = format!("{token}.{}", better_auth_signature(&token));
        assert_eq!(set_auth_token, signed);
        assert_eq!(
            cookie,
            format!(
                "better-auth.session_token={}; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax",
                encode_uri_component(&signed)
            )
        );
        let user = &body["user"];
        assert_eq!(user["email"], "ada@example.com");
        assert_eq!(user["emailVerified"], false);
        assert_eq!(user["image"], Value::Null);
        let names: Vec<&str> = user
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(names.len(), 7, "{names:?}");
        parse_time(user["createdAt"].as_str().unwrap());

        // Sign-in.
        let r = s
            .post_json(
                "/sign-in/email",
                json!({"email": "ada@example.com", "password": "correct horse"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let cookie_pair = cookie_pair(&r, "better-auth.session_token").unwrap();
        let bearer = r.headers()["set-auth-token"].to_str().unwrap().to_owned();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["redirect"], false);
        let session_token = body["token"].as_str().unwrap().to_owned();

        // get-session by cookie, by signed bearer, by raw bearer.
        for (name, header, value) in [
            ("cookie", "cookie", cookie_pair.clone()),
            ("signed bearer", "authorization", format!("Bearer {bearer}")),
            (
                "raw bearer",
                "authorization",
                format!("bearer {session_token}"),
            ),
        ] {
            let r = s
                .client
                .get(s.url("/get-session"))
                .header(header, &value)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{name}");
            assert_eq!(r.headers()["cache-control"], "no-store");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["session"]["token"], session_token.as_str(), "{name}");
            assert_eq!(body["user"]["email"], "ada@example.com");
            assert_eq!(body["session"]["userId"], body["user"]["id"]);
        }
        // An invalid bearer is ignored; the cookie still works.
        let r = s
            .client
            .get(s.url("/get-session"))
            .header("authorization", "Bearer garbage.AAAA")
            .header("cookie", &cookie_pair)
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["session"]["token"], session_token.as_str());

        // No session: 200 null.
        let r = s.get("/get-session").await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert_eq!(r.text().await.unwrap(), "null");

        // Sign-out with the cookie (and a trusted Origin), then the session is gone.
        let r = s
            .client
            .post(s.url("/sign-out"))
            .header("cookie", &cookie_pair)
            .header("origin", s.origin())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            crate::harness::cookie_pair(&r, "better-auth.session_token").as_deref(),
            Some("better-auth.session_token=")
        );
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"success": true}));
        let r = s.session_by_bearer(&bearer).await;
        assert_eq!(r.text().await.unwrap(), "null");
    }
}

#[tokio::test]
async fn remember_me_false_gives_browser_session_and_one_day() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        s.sign_up("a@b.co", "correct horse").await;
        let r = s
            .post_json(
                "/sign-in/email",
                json!({"email": "a@b.co", "password": "correct horse", "rememberMe": false}),
            )
            .await;
        let cookies: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(cookies.len(), 2);
        assert!(!cookies[0].contains("Max-Age"), "{}", cookies[0]);
        assert!(
            cookies[1].starts_with("better-auth.dont_remember=true."),
            "{}",
            cookies[1]
        );
        let bearer = r.headers()["set-auth-token"].to_str().unwrap().to_owned();
        let r = s.session_by_bearer(&bearer).await;
        let body: Value = r.json().await.unwrap();
        let expires = parse_time(body["session"]["expiresAt"].as_str().unwrap());
        let created = parse_time(body["session"]["createdAt"].as_str().unwrap());
        assert_eq!((expires - created).num_hours(), 24);

        // It never slides: 23 hours later the expiry is unchanged and no cookie is set.
        s.advance(Duration::hours(23));
        let r = s.session_by_bearer(&bearer).await;
        assert!(r.headers().get("set-cookie").is_none());
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            parse_time(body["session"]["expiresAt"].as_str().unwrap()),
            expires
        );
        // And then it is over.
        s.advance(Duration::hours(2));
        let r = s.session_by_bearer(&bearer).await;
        assert_eq!(r.text().await.unwrap(), "null");
    }
}

#[tokio::test]
async fn disable_refresh_and_callback_url() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        let r = s.sign_up("a@b.co", "correct horse").await;
        let cookie = cookie_pair(&r, "better-auth.session_token").unwrap();
        let body: Value = r.json().await.unwrap();
        let token = body["token"].as_str().unwrap().to_owned();
        s.advance(Duration::hours(25));
        let r = s
            .client
            .get(s.url("/get-session?disableRefresh=true"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert!(r.headers().get("set-cookie").is_none());
        let body: Value = r.json().await.unwrap();
        let expires = parse_time(body["session"]["expiresAt"].as_str().unwrap());
        let created = parse_time(body["session"]["createdAt"].as_str().unwrap());
        assert_eq!((expires - created).num_days(), 7, "not refreshed");
        assert_eq!(body["session"]["token"], token.as_str());

        let r = s.post_json("/sign-in/email", json!({"email": "a@b.co", "password": "correct horse", "callbackURL": "/dashboard"})).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["location"], "/dashboard");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["redirect"], true);
        assert_eq!(body["url"], "/dashboard");
    }
}

#[tokio::test]
async fn expiry_and_sliding_refresh_follow_the_clock() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        let r = s.sign_up("a@b.co", "correct horse").await;
        let cookie = cookie_pair(&r, "better-auth.session_token").unwrap();
        let get = || {
            s.client
                .get(s.url("/get-session"))
                .header("cookie", &cookie)
                .send()
        };

        let first: Value = get().await.unwrap().json().await.unwrap();
        let expires0 = parse_time(first["session"]["expiresAt"].as_str().unwrap());

        // Within a day: no refresh, no cookie.
        s.advance(Duration::hours(12));
        let r = get().await.unwrap();
        assert!(r.headers().get("set-cookie").is_none());
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            parse_time(body["session"]["expiresAt"].as_str().unwrap()),
            expires0
        );

        // After a day: the expiry slides to now + 7 days and the cookie is set again.
        s.advance(Duration::hours(13));
        let r = get().await.unwrap();
        assert!(r.headers().get("set-cookie").is_some());
        let body: Value = r.json().await.unwrap();
        let expires1 = parse_time(body["session"]["expiresAt"].as_str().unwrap());
        assert!(
            expires1 > expires0 + Duration::hours(24),
            "{expires0} -> {expires1}"
        );

        // Past the expiry: null, and the cookie is cleared.
        s.advance(Duration::days(8));
        let r = get().await.unwrap();
        assert_eq!(
            cookie_pair(&r, "better-auth.session_token").as_deref(),
            Some("better-auth.session_token=")
        );
        assert_eq!(r.text().await.unwrap(), "null");
    }
}

#[tokio::test]
async fn form_bodies_are_accepted() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        let r = s
            .client
            .post(s.url("/sign-up/email"))
            .form(&[
                ("name", "Form User"),
                ("email", "form@b.co"),
                ("password", "correct horse"),
                ("rememberMe", "false"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        // rememberMe=false arrived as the boolean it is: browser-session cookie + dont_remember.
        let session_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(!session_cookie.contains("Max-Age"), "{session_cookie}");
        assert!(cookie_pair(&r, "better-auth.dont_remember").is_some());
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["user"]["name"], "Form User");
    }
}
