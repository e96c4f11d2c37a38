//! Validation of the configuration: defaults, precedence, refused values.

use super::*;
use std::collections::HashMap;

fn settings(secret: &str) -> Settings {
    Settings {
        secret: Some(secret.to_owned()),
        ..Settings::default()
    }
}

const GOOD: &str = "q8Vf2LmZ7xT1rB9nK4pW6sY0cH3jD5gA";

#[test]
fn defaults() {
    let c = Config::from_settings(settings(GOOD)).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
    assert_eq!(c.base_url, "http://127.0.0.1:3000");
    assert_eq!(c.origin, "http://127.0.0.1:3000");
    assert_eq!(c.base_path, "/api/auth");
    assert!(c.rate_limit);
    assert_eq!(c.rate_limit_ipv6_prefix, 64);
    assert!(!c.secure_cookies());
    assert_eq!(c.database_url.to_string(), "sqlite://./sigil-data/sigil.db");
    assert_eq!((c.max_name_length, c.max_image_url_length), (256, 2048));
    assert_eq!(c.serve.header_read_timeout, Duration::from_secs(10));
    assert_eq!(c.serve.keep_alive_timeout, Duration::from_secs(60));
    assert_eq!(c.serve.shutdown_timeout, Duration::from_secs(10));
    assert!((16..=4096).contains(&c.serve.max_connections));
    let spans = Settings {
        header_read_timeout: Some(TimeSpan::Text("5s".into())),
        keep_alive_timeout: Some(TimeSpan::Seconds(75)),
        max_connections: Some(2),
        ..settings(GOOD)
    };
    let c = Config::from_settings(spans).unwrap();
    assert_eq!(c.serve.header_read_timeout, Duration::from_secs(5));
    assert_eq!(c.serve.keep_alive_timeout, Duration::from_secs(75));
    assert_eq!(c.serve.max_connections, 2);
    assert!(
        !format!("{c:?}").contains(GOOD),
        "Debug never shows the secret"
    );
}

#[test]
fn weak_secrets_refused_in_production_only() {
    for weak in [
        "short",
        "better-auth-secret-12345678901234567890",
        &"a".repeat(40),
        "abababababababababababababababab",
    ] {
        let err = Config::from_settings(settings(weak)).unwrap_err();
        assert!(err.to_string().contains("secret"), "{weak}: {err}");
        let dev = Settings {
            mode: Some(Mode::Dev),
            ..settings(weak)
        };
        assert!(Config::from_settings(dev).is_ok());
    }
}

#[test]
fn precedence_file_env_flags() {
    let file: Settings = toml::from_str("listen = \"127.0.0.1:1\"\nbase_path = \"/auth\"").unwrap();
    let env = Settings::from_env(&HashMap::from([
        ("SIGIL_LISTEN".to_owned(), "127.0.0.1:2".to_owned()),
        ("BETTER_AUTH_SECRET".to_owned(), GOOD.to_owned()),
        (
            "BETTER_AUTH_URL".to_owned(),
            "https://Auth.Example.com:443/x".to_owned(),
        ),
    ]))
    .unwrap();
    let flags = Settings {
        listen: Some("127.0.0.1:3".into()),
        ..Settings::default()
    };
    let c = Config::from_settings(
        file.overridden_by(env)
            .unwrap()
            .overridden_by(flags)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(c.listen.port(), 3);
    assert_eq!(c.base_path, "/auth");
    assert_eq!(c.origin, "https://auth.example.com");
    assert!(c.secure_cookies());
    let upper = Settings {
        base_url: Some("HTTPS://A.EXAMPLE".into()),
        ..settings(GOOD)
    };
    assert!(Config::from_settings(upper).unwrap().secure_cookies());
}

#[test]
fn unknown_keys_and_bad_values_are_refused() {
    assert!(toml::from_str::<Settings>("lisen = \"x\"").is_err());
    for bad in [
        Settings {
            listen: Some("nope".into()),
            ..settings(GOOD)
        },
        Settings {
            base_url: Some("ftp://x".into()),
            ..settings(GOOD)
        },
        Settings {
            base_path: Some("api".into()),
            ..settings(GOOD)
        },
        Settings {
            database_url: Some("mysql://x".into()),
            ..settings(GOOD)
        },
        // A URL the driver cannot use is refused at start, not answered 503 later.
        Settings {
            database_url: Some("postgres://u:p@localhost:99999/db".into()),
            ..settings(GOOD)
        },
        Settings {
            max_body_bytes: Some(10),
            ..settings(GOOD)
        },
        Settings {
            database_timeout_secs: Some(0),
            ..settings(GOOD)
        },
        Settings {
            rate_limit_ipv6_prefix: Some(0),
            ..settings(GOOD)
        },
        Settings {
            rate_limit_ipv6_prefix: Some(129),
            ..settings(GOOD)
        },
        Settings {
            max_name_length: Some(0),
            ..settings(GOOD)
        },
        Settings {
            max_image_url_length: Some(0),
            ..settings(GOOD)
        },
        Settings {
            header_read_timeout: Some(TimeSpan::Seconds(0)),
            ..settings(GOOD)
        },
        Settings {
            request_timeout: Some(TimeSpan::Seconds(10)),
            database_timeout_secs: Some(6),
            ..settings(GOOD)
        },
        Settings {
            max_connections: Some(0),
            ..settings(GOOD)
        },
        Settings {
            keep_alive_timeout: Some(TimeSpan::Text("2h".into())),
            ..settings(GOOD)
        },
        Settings {
            shutdown_timeout: Some(TimeSpan::Seconds(-1)),
            ..settings(GOOD)
        },
    ] {
        assert!(matches!(
            Config::from_settings(bad),
            Err(ConfigError::Invalid { .. })
        ));
    }
    let env = HashMap::from([("SIGIL_RATE_LIMIT".to_owned(), "maybe".to_owned())]);
    assert!(Settings::from_env(&env).is_err());
}

#[test]
fn generated_secret_is_private_and_stable() {
    let dir = std::env::temp_dir().join(format!(
        "sigil-config-test-{}",
        crate::ids::random_string(8)
    ));
    let s = || Settings {
        data_dir: Some(dir.clone()),
        ..Settings::default()
    };
    let first = Config::from_settings(s()).unwrap();
    assert!(matches!(first.secrets.source, SecretSource::Generated(_)));
    let second = Config::from_settings(s()).unwrap();
    assert!(matches!(second.secrets.source, SecretSource::DataDir(_)));
    assert_eq!(
        first.secrets.current.expose(),
        second.secrets.current.expose()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn token_settings() {
    let c = Config::from_settings(settings(GOOD)).unwrap();
    assert_eq!(c.keys.alg, sigil_jose::Alg::EdDSA);
    assert_eq!(c.jwt.expiration, chrono::TimeDelta::seconds(900));
    assert_eq!(c.jwt.issuer, "http://127.0.0.1:3000");
    assert_eq!(c.jwt.audience, vec!["http://127.0.0.1:3000".to_owned()]);
    assert_eq!(c.keys.jwks_path, "/jwks");
    assert!(c.keys.encrypt_private_keys);
    let file: Settings = toml::from_str(
        "[jwt]\nalg = \"ES512\"\nexpiration_time = \"1h\"\naudience = [\"a\", \"b\"]\n[jwks]\nmax_age = 60\npath = \"/.well-known/jwks.json\"",
    )
    .unwrap();
    let c = Config::from_settings(Settings {
        secret: Some(GOOD.into()),
        ..file
    })
    .unwrap();
    assert_eq!(c.keys.alg, sigil_jose::Alg::ES512);
    assert_eq!(c.jwt.expiration, chrono::TimeDelta::seconds(3600));
    assert_eq!(c.jwt.audience, vec!["a".to_owned(), "b".to_owned()]);
    assert_eq!(c.keys.max_age, chrono::TimeDelta::seconds(60));
    for bad in [
        "[jwt]\nalg = \"HS256\"",
        "[jwt]\nalg = \"ES384\"",
        "[jwt]\nexpiration_time = \"soon\"",
        "[jwt]\nexpiration_time = -5",
        "[jwks]\npath = \"/token\"",
        "[jwks]\npath = \"jwks\"",
        "[jwks]\ngrace_period = \"10m\"",
        "[jwks]\nrsa_modulus_bits = 1024",
        "[jwks]\npath = \"/a/../token\"",
        "[jwks]\nrotation_interval = \"5m\"",
        "[jwks]\nrotation_interval = \"300000y\"",
        // Every span is capped at ten years, so date arithmetic cannot overflow.
        "[jwt]\nexpiration_time = \"11y\"",
        "[jwks]\nmax_age = \"11y\"",
        "[jwks]\ngrace_period = \"11y\"",
        "[jwt.claims]\nexp = \"user.id\"",
        "[jwt.claims]\nrole = \"user.nope\"",
        "[jwt.claims]\ntoken = \"session.token\"",
        "[jwt.static_claims]\naud = \"x\"",
        "[[user_fields]]\nname = \"Email\"\ntype = \"string\"",
        "[[user_fields]]\nname = \"iss\"\ntype = \"string\"",
        "[[user_fields]]\nname = \"x y\"\ntype = \"string\"",
        "[[user_fields]]\nname = \"n\"\ntype = \"number\"\ndefault = \"one\"",
    ] {
        let file: Settings = toml::from_str(bad).unwrap();
        let err = Config::from_settings(Settings {
            secret: Some(GOOD.into()),
            ..file
        });
        assert!(matches!(err, Err(ConfigError::Invalid { .. })), "{bad}");
    }
    assert!(toml::from_str::<Settings>("[jwt]\nalgo = \"EdDSA\"").is_err());
}

#[test]
fn versioned_secrets() {
    let s = Settings {
        secrets: Some(format!("2:{GOOD}x, 1:{GOOD}")),
        secret: Some("legacy-secret-Q8vF2lMz7Xt1Rb9nK4pW6sY0cH3j".into()),
        ..Settings::default()
    };
    let c = Config::from_settings(s).unwrap();
    assert_eq!(c.secrets.current.expose(), format!("{GOOD}x"));
    assert_eq!(
        c.secrets
            .versions
            .iter()
            .map(|(v, _)| *v)
            .collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert!(c.secrets.legacy.is_some());
    for bad in ["2", "x:abc", &format!("1:{GOOD},1:{GOOD}y"), "1:short"] {
        let s = Settings {
            secrets: Some(bad.to_owned()),
            ..Settings::default()
        };
        assert!(
            matches!(Config::from_settings(s), Err(ConfigError::Invalid { .. })),
            "{bad}"
        );
    }
}

#[test]
fn allowed_audiences() {
    assert!(
        Config::from_settings(settings(GOOD))
            .unwrap()
            .jwt
            .allowed_audiences
            .is_empty()
    );
    let env = HashMap::from([(
        "SIGIL_JWT_ALLOWED_AUDIENCES".to_owned(),
        "billing, search".to_owned(),
    )]);
    let from_env = Settings::from_env(&env).unwrap();
    let c = Config::from_settings(Settings {
        secret: Some(GOOD.into()),
        ..from_env
    })
    .unwrap();
    assert_eq!(c.jwt.allowed_audiences, vec!["billing", "search"]);
    for bad in [vec![String::new()], vec![" billing".into()]] {
        let err = Config::from_settings(Settings {
            jwt: JwtSettings {
                allowed_audiences: Some(bad.clone()),
                ..Default::default()
            },
            ..settings(GOOD)
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("jwt.allowed_audiences"),
            "{bad:?}: {err}"
        );
    }
}
