//! A GitHub App installed on the shop for some of its repositories: its RSA key (generated once
//! per process; the private half is what an operator downloads, in PEM), JWTs checked as GitHub
//! checks them (RS256, `iss` the App's id, `exp` at most ten minutes after `iat`, not expired),
//! and installation tokens (`ghs_…`, an hour long) that see only the installation's
//! repositories and act as the App's bot.

use std::{
    collections::BTreeMap,
    sync::{Mutex, OnceLock},
};

use aws_lc_rs::{
    encoding::AsDer,
    rand::{SecureRandom, SystemRandom},
    rsa::{KeyPair, KeySize},
    signature::{self, KeyPair as _},
};
use base64::Engine;

/// The key pair: (private key as PKCS#8 PEM, public key as PKCS#1 DER).
fn key() -> &'static (String, Vec<u8>) {
    static KEY: OnceLock<(String, Vec<u8>)> = OnceLock::new();
    KEY.get_or_init(|| {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).expect("PKCS#8");
        let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        );
        (pem, pair.public_key().as_ref().to_vec())
    })
}

/// The App and its installation on the shop.
#[derive(Debug)]
pub struct App {
    pub id: u64,
    pub slug: String,
    pub name: String,
    pub installation: u64,
    /// `owner/name` of the repositories the installation may see.
    pub repositories: Vec<String>,
    /// Minted tokens and when each expires (unix seconds).
    tokens: Mutex<BTreeMap<String, i64>>,
}

/// Why a JWT is refused (GitHub's messages).
#[derive(Debug, PartialEq)]
pub enum JwtError {
    Malformed,
    Signature,
    Issuer,
    Expired,
    TooLong,
}

impl JwtError {
    pub fn message(&self) -> &'static str {
        match self {
            Self::Malformed => "A JSON web token could not be decoded",
            Self::Signature => "A JSON web token could not be decoded",
            Self::Issuer => "'Issuer' claim ('iss') must be an Integer",
            Self::Expired => {
                "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
            }
            Self::TooLong => "'Expiration time' claim ('exp') is too far in the future",
        }
    }
}

impl App {
    /// The incident App, installed for `repositories`.
    pub fn new(repositories: Vec<String>) -> Self {
        Self {
            id: 1_045_203,
            slug: "opsmcp-incident".into(),
            name: "opsmcp incident responder".into(),
            installation: 58_210_944,
            repositories,
            tokens: Mutex::new(BTreeMap::new()),
        }
    }

    /// The private key in PEM, as GitHub hands it to the App's owner.
    pub fn private_key_pem(&self) -> &'static str {
        &key().0
    }

    /// The bot the installation acts as.
    pub fn bot(&self) -> String {
        format!("{}[bot]", self.slug)
    }

    /// Check a JWT signed with the App's key at `now` (unix seconds).
    pub fn verify(&self, jwt: &str, now: i64) -> Result<(), JwtError> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut parts = jwt.split('.');
        let (Some(header), Some(claims), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let decode = |part: &str| {
            b64.decode(part)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .ok_or(JwtError::Malformed)
        };
        if decode(header)?["alg"] != "RS256" {
            return Err(JwtError::Malformed);
        }
        let signature = b64.decode(sig).map_err(|_| JwtError::Malformed)?;
        signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &key().1)
            .verify(format!("{header}.{claims}").as_bytes(), &signature)
            .map_err(|_| JwtError::Signature)?;
        let claims = decode(claims)?;
        let iss = claims["iss"]
            .as_u64()
            .or_else(|| claims["iss"].as_str().and_then(|s| s.parse().ok()));
        if iss != Some(self.id) {
            return Err(JwtError::Issuer);
        }
        let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
        match (iat, exp) {
            (_, None) => Err(JwtError::Expired),
            (_, Some(exp)) if exp <= now => Err(JwtError::Expired),
            (Some(iat), Some(exp)) if exp - iat > 600 => Err(JwtError::TooLong),
            (None, Some(exp)) if exp - now > 600 => Err(JwtError::TooLong),
            _ => Ok(()),
        }
    }

    /// A new installation token valid for an hour from `now`: (token, expires).
    pub fn mint(&self, now: i64) -> (String, i64) {
        let mut bytes = [0u8; 18];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system's random source");
        let token = format!("ghs_{}", hex::encode(bytes));
        let expires = now + 3600;
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.retain(|_, e| *e > now);
        tokens.insert(token.clone(), expires);
        (token, expires)
    }

    /// Whether `token` is a live installation token at `now`.
    pub fn accepts(&self, token: &str, now: i64) -> bool {
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .is_some_and(|e| *e > now)
    }

    /// End every token's life now (to test a refresh).
    pub fn expire_tokens(&self) {
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
