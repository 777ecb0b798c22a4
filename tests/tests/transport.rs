//! The transport layer of opsmcp-core, through the conformance fixture binary: HTTP in both
//! modes, stdio, legacy SSE, probes and metrics, bad input of every kind, auth and the Host /
//! Origin checks, start-up refusals, graceful shutdown.

use std::{
    io::{BufRead, BufReader, Write},
    process::Stdio,
    time::Duration,
};

use anyhow::Result;
use opsmcp_e2e::{HttpServer, RawSession, binary, command, run, spawn};
use serde_json::{Value, json};

const FIXTURE: &str = "opsmcp-fixture";

#[tokio::test]
async fn rmcp_client_lists_and_calls_over_streamable_http_in_both_modes() -> Result<()> {
    use rmcp::{
        ServiceExt, model::CallToolRequestParams, transport::StreamableHttpClientTransport,
    };
    for mode in [&[][..], &["--stateless"][..]] {
        let server = HttpServer::start(FIXTURE, mode)?;
        let client = ().serve(StreamableHttpClientTransport::from_uri(server.url("/mcp"))).await?;
        let tools = client.list_all_tools().await?;
        assert!(
            tools.iter().any(|t| t.name == "echo"),
            "{mode:?}: {tools:?}"
        );
        let mut args = serde_json::Map::new();
        args.insert("text".into(), json!("over http"));
        let result = client
            .call_tool(CallToolRequestParams::new("echo").with_arguments(args))
            .await?;
        let text = serde_json::to_value(&result)?;
        assert_eq!(
            text.pointer("/content/0/text"),
            Some(&json!("over http")),
            "{mode:?}"
        );
        client.cancel().await?;
    }
    Ok(())
}

#[tokio::test]
async fn rmcp_client_over_stdio() -> Result<()> {
    use rmcp::{ServiceExt, transport::TokioChildProcess};
    let mut cmd = tokio::process::Command::new(binary(FIXTURE));
    cmd.stderr(Stdio::null());
    let client = ().serve(TokioChildProcess::new(cmd)?).await?;
    let tools = client.list_all_tools().await?;
    assert!(tools.len() > 10);
    client.cancel().await?;
    Ok(())
}

#[tokio::test]
async fn every_tool_carries_complete_annotations() -> Result<()> {
    let server = HttpServer::start(FIXTURE, &[])?;
    let mut session = RawSession::new(server.url("/mcp"));
    session.initialize().await?;
    let answer = session.request("tools/list", json!({})).await?;
    let tools = answer
        .body
        .pointer("/result/tools")
        .and_then(Value::as_array)
        .expect("tools");
    for tool in tools {
        let a = &tool["annotations"];
        for hint in ["readOnlyHint", "openWorldHint"] {
            assert!(a[hint].is_boolean(), "{} lacks {hint}", tool["name"]);
        }
        // The write hints mean something only for tools that write.
        if a["readOnlyHint"] == false {
            for hint in ["destructiveHint", "idempotentHint"] {
                assert!(
                    a[hint].is_boolean(),
                    "{} writes but lacks {hint}",
                    tool["name"]
                );
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn bad_input_gets_the_right_error_and_the_server_keeps_serving() -> Result<()> {
    let server = HttpServer::start(FIXTURE, &["--max-body-bytes", "65536"])?;
    let mut s = RawSession::new(server.url("/mcp"));
    s.initialize().await?;

    let malformed = s
        .post_raw("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ")
        .await?;
    assert_eq!(malformed.status, 400, "{malformed:?}");
    assert_eq!(
        malformed.body.pointer("/error/code"),
        Some(&json!(-32700)),
        "{malformed:?}"
    );
    s.assert_serving().await?;

    let not_rpc = s.post_raw("[1, 2, 3]").await?;
    assert_eq!(not_rpc.status, 400, "{not_rpc:?}");
    assert_eq!(
        not_rpc.body.pointer("/error/code"),
        Some(&json!(-32600)),
        "{not_rpc:?}"
    );
    s.assert_serving().await?;

    let unknown = s.request("no/such/method", json!({})).await?;
    assert_eq!(
        unknown.body.pointer("/error/code"),
        Some(&json!(-32601)),
        "{unknown:?}"
    );
    s.assert_serving().await?;

    let unknown_tool = s
        .request(
            "tools/call",
            json!({ "name": "no_such_tool", "arguments": {} }),
        )
        .await?;
    assert_eq!(
        unknown_tool.body.pointer("/error/code"),
        Some(&json!(-32602)),
        "{unknown_tool:?}"
    );

    let wrong_type = s
        .request(
            "tools/call",
            json!({ "name": "echo", "arguments": { "text": 42 } }),
        )
        .await?;
    let rejected = wrong_type.body.pointer("/error/code").is_some()
        || wrong_type.body.pointer("/result/isError") == Some(&json!(true));
    assert!(
        rejected,
        "a number where a string is required must be refused: {wrong_type:?}"
    );
    s.assert_serving().await?;

    let bad_params = s.request("tools/call", json!("not an object")).await?;
    assert_eq!(
        bad_params.body.pointer("/error/code"),
        Some(&json!(-32602)),
        "{bad_params:?}"
    );
    s.assert_serving().await?;

    let oversized = s
        .post_raw(format!("{{\"pad\": \"{}\"}}", "x".repeat(100_000)))
        .await?;
    assert_eq!(oversized.status, 413, "{oversized:?}");
    s.assert_serving().await?;

    // Legacy endpoint: malformed frames and unknown sessions.
    let http = reqwest::Client::new();
    let r = http
        .post(server.url("/message?sessionId=nope"))
        .body("{}")
        .send()
        .await?;
    assert_eq!(r.status(), 404);
    let r = http.post(server.url("/message")).body("{}").send().await?;
    assert_eq!(r.status(), 400);
    s.assert_serving().await?;
    Ok(())
}

#[tokio::test]
async fn token_host_and_origin_are_enforced_on_every_mcp_route() -> Result<()> {
    let server = HttpServer::start(
        FIXTURE,
        &[
            "--http-token",
            "t0ken-for-tests",
            "--allowed-hosts",
            "mcp.example.com",
        ],
    )?;
    let http = reqwest::Client::new();
    for path in ["/mcp", "/sse"] {
        let method = if path == "/mcp" {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let cases: [(&str, Headers, u16); 4] = [
            ("no token", &[], 401),
            ("wrong token", &[("authorization", "Bearer wrong")], 401),
            (
                "foreign Host",
                &[
                    ("authorization", "Bearer t0ken-for-tests"),
                    ("host", "evil.example.net"),
                ],
                403,
            ),
            (
                "foreign Origin",
                &[
                    ("authorization", "Bearer t0ken-for-tests"),
                    ("origin", "https://evil.example.net"),
                ],
                403,
            ),
        ];
        for (case, headers, expected) in cases {
            let mut request = http.request(method.clone(), server.url(path));
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let response = request.send().await?;
            assert_eq!(response.status(), expected, "{path}: {case}");
            if expected == 401 {
                assert_eq!(
                    response.headers()["www-authenticate"],
                    "Bearer",
                    "{path}: {case}"
                );
            }
        }
    }
    // The right token, an allowed proxy Host and a loopback Origin pass.
    let mut s = RawSession::new(server.url("/mcp"))
        .header("authorization", "Bearer t0ken-for-tests")
        .header("host", "mcp.example.com")
        .header("origin", "http://localhost:6274");
    s.initialize().await?;
    s.assert_serving().await?;
    // Probes stay open for load balancers and scrapers.
    assert_eq!(http.get(server.url("/healthz")).send().await?.status(), 200);
    // The token never reaches the log.
    assert!(!server.log().iter().any(|l| l.contains("t0ken-for-tests")));
    Ok(())
}

#[tokio::test]
async fn probes_and_metrics() -> Result<()> {
    let server = HttpServer::start(FIXTURE, &[])?;
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(server.url("/healthz"))
            .send()
            .await?
            .text()
            .await?,
        "ok\n"
    );
    assert_eq!(http.get(server.url("/readyz")).send().await?.status(), 200);
    let mut s = RawSession::new(server.url("/mcp"));
    s.initialize().await?;
    s.assert_serving().await?;
    s.request(
        "tools/call",
        json!({ "name": "test_error_handling", "arguments": {} }),
    )
    .await?;
    let metrics = http.get(server.url("/metrics")).send().await?;
    assert!(
        metrics.headers()["content-type"]
            .to_str()?
            .starts_with("application/openmetrics-text")
    );
    let text = metrics.text().await?;
    assert!(
        text.contains(r#"opsmcp_tool_calls_total{tool="echo",outcome="ok"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"opsmcp_tool_calls_total{tool="test_error_handling",outcome="tool_error"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"opsmcp_tool_call_duration_seconds_bucket{le="#),
        "{text}"
    );
    // The same numbers as an MCP resource.
    let resource = s
        .request("resources/read", json!({ "uri": "opsmcp://metrics" }))
        .await?;
    let body = resource
        .body
        .pointer("/result/contents/0/text")
        .and_then(Value::as_str)
        .unwrap_or_default();
    assert!(body.contains("opsmcp_tool_calls_total"), "{resource:?}");
    Ok(())
}

#[tokio::test]
async fn legacy_sse_round_trip() -> Result<()> {
    use futures::StreamExt;
    let server = HttpServer::start(FIXTURE, &[])?;
    let http = reqwest::Client::new();
    let sse = http.get(server.url("/sse")).send().await?;
    assert_eq!(sse.status(), 200);
    assert!(
        sse.headers()["content-type"]
            .to_str()?
            .starts_with("text/event-stream")
    );
    let mut events = sse.bytes_stream();
    let mut buffer = String::new();
    let mut next_event = async || -> Result<(String, String)> {
        loop {
            if let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                let kind = event
                    .lines()
                    .find_map(|l| l.strip_prefix("event:"))
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                let data = event
                    .lines()
                    .find_map(|l| l.strip_prefix("data:"))
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                if !kind.is_empty() {
                    return Ok((kind, data));
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), events.next())
                .await?
                .expect("stream open")?;
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    let (kind, endpoint) = next_event().await?;
    assert_eq!(kind, "endpoint");
    assert!(endpoint.starts_with("message?sessionId="), "{endpoint}");
    let post_url = server.url(&format!("/{endpoint}"));
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": { "name": "legacy", "version": "0" } } });
    assert_eq!(http.post(&post_url).json(&init).send().await?.status(), 202);
    let (kind, data) = next_event().await?;
    assert_eq!(kind, "message");
    let answer: Value = serde_json::from_str(&data)?;
    assert_eq!(answer["result"]["protocolVersion"], "2024-11-05");
    let note = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    assert_eq!(http.post(&post_url).json(&note).send().await?.status(), 202);
    // A malformed frame is refused; the session goes on.
    assert_eq!(
        http.post(&post_url).body("{oops").send().await?.status(),
        400
    );
    let call = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": { "name": "echo", "arguments": { "text": "legacy" } } });
    assert_eq!(http.post(&post_url).json(&call).send().await?.status(), 202);
    let (_, data) = next_event().await?;
    let answer: Value = serde_json::from_str(&data)?;
    assert_eq!(
        answer.pointer("/result/content/0/text"),
        Some(&json!("legacy"))
    );
    Ok(())
}

#[test]
fn stdio_keeps_stdout_for_frames_and_survives_garbage() -> Result<()> {
    let mut cmd = command(binary(FIXTURE));
    cmd.env("RUST_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut guard = spawn(cmd, "fixture-stdio")?;
    let mut stdin = guard.child.stdin.take().unwrap();
    let mut stdout = BufReader::new(guard.child.stdout.take().unwrap());
    let mut send = |line: &str| -> Result<()> {
        writeln!(stdin, "{line}")?;
        stdin.flush()?;
        Ok(())
    };
    let mut read = || -> Result<Value> {
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        Ok(serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("stdout carried a non-JSON line: {line:?}")))
    };
    send(
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#,
    )?;
    assert_eq!(read()?["id"], 1);
    send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)?;
    send(r#"{"jsonrpc":"2.0","id":2,"method":"no/such/method"}"#)?;
    let answer = read()?;
    assert_eq!(answer["id"], 2);
    assert_eq!(answer["error"]["code"], -32601);
    send("this is not json")?;
    send(
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"after garbage"}}}"#,
    )?;
    let mut answer = read()?;
    // A parse error reply (id null) may come first; the call's answer must follow.
    if answer["id"].is_null() {
        assert_eq!(answer["error"]["code"], -32700);
        answer = read()?;
    }
    assert_eq!(answer["id"], 3);
    assert_eq!(
        answer.pointer("/result/content/0/text"),
        Some(&json!("after garbage"))
    );
    Ok(())
}

#[test]
fn refuses_a_public_address_without_a_token_and_says_why() -> Result<()> {
    let mut cmd = command(binary(FIXTURE));
    cmd.args(["serve", "--listen", "0.0.0.0:0"]);
    let (ok, _, stderr) = run(cmd, Duration::from_secs(20))?;
    assert!(!ok);
    assert!(stderr.contains("without a bearer token"), "{stderr}");
    assert!(stderr.contains("OPSMCP_HTTP_TOKEN"), "{stderr}");
    Ok(())
}

/// Booleans in variables as people write them, a bad one named by its variable, and the
/// server's flags after `serve` as well as before it.
#[tokio::test]
async fn variables_and_flags_as_people_write_them() -> Result<()> {
    for spelling in ["1", "yes", "On", "TRUE"] {
        let server = HttpServer::start_with_env(
            FIXTURE,
            &["--mode", "plan"],
            &[("OPSMCP_READ_ONLY", spelling)],
        )?;
        drop(server);
    }
    let mut cmd = command(binary(FIXTURE));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("OPSMCP_READ_ONLY", "maybe");
    let (ok, _, stderr) = run(cmd, Duration::from_secs(20))?;
    assert!(!ok);
    assert!(
        stderr.contains("'maybe'") && stderr.contains("the environment variable OPSMCP_READ_ONLY"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn help_and_version() -> Result<()> {
    let mut cmd = command(binary(FIXTURE));
    cmd.args(["serve", "--help"]);
    let (ok, help, _) = run(cmd, Duration::from_secs(20))?;
    assert!(ok);
    for flag in [
        "--listen",
        "--http-token",
        "--allowed-hosts",
        "--allowed-origins",
        "--stateless",
        "--config",
    ] {
        assert!(help.contains(flag), "{flag} missing:\n{help}");
    }
    assert!(help.contains("[env: OPSMCP_HTTP_TOKEN]"), "{help}");
    let mut cmd = command(binary(FIXTURE));
    cmd.arg("--version");
    let (ok, version, _) = run(cmd, Duration::from_secs(20))?;
    assert!(ok);
    assert!(version.starts_with("opsmcp-fixture "), "{version}");
    Ok(())
}

#[tokio::test]
async fn graceful_shutdown_on_sigterm() -> Result<()> {
    let mut server = HttpServer::start(FIXTURE, &["--shutdown-grace-secs", "5"])?;
    // An open SSE stream must not hold the process past shutdown.
    let _stream = reqwest::Client::new()
        .get(server.url("/sse"))
        .send()
        .await?;
    let status = server.process.terminate(Duration::from_secs(8))?;
    assert!(status.success(), "{status:?}");
    Ok(())
}

#[tokio::test]
async fn flags_beat_environment_beats_config_file() -> Result<()> {
    let dir = opsmcp_e2e::TempDir::new("config")?;
    let file = dir.path().join("opsmcp.toml");
    std::fs::write(&file, "[serve]\nhttp-token = \"from-file\"\n")?;
    let file = file.to_str().unwrap();
    let http = reqwest::Client::new();
    let accepted = async |server: &HttpServer, token: &str| -> Result<bool> {
        let status = http
            .post(server.url("/mcp"))
            .bearer_auth(token)
            .send()
            .await?
            .status();
        Ok(status != 401)
    };

    let only_file = HttpServer::start_with_env(
        FIXTURE,
        &["--shutdown-grace-secs", "1"],
        &[("OPSMCP_CONFIG", file)],
    )?;
    assert!(accepted(&only_file, "from-file").await?);

    let env_too = HttpServer::start_with_env(
        FIXTURE,
        &[],
        &[("OPSMCP_CONFIG", file), ("OPSMCP_HTTP_TOKEN", "from-env")],
    )?;
    assert!(accepted(&env_too, "from-env").await?);
    assert!(!accepted(&env_too, "from-file").await?);

    let flag_too = HttpServer::start_with_env(
        FIXTURE,
        &["--http-token", "from-flag"],
        &[("OPSMCP_CONFIG", file), ("OPSMCP_HTTP_TOKEN", "from-env")],
    )?;
    assert!(accepted(&flag_too, "from-flag").await?);
    assert!(!accepted(&flag_too, "from-env").await?);
    Ok(())
}

#[tokio::test]
async fn http_bounds_slow_headers_connections_and_sessions() -> Result<()> {
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpStream,
    };
    let server = HttpServer::start(
        FIXTURE,
        &["--header-timeout-secs", "1", "--max-connections", "2"],
    )?;
    let healthz = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let read_all = async |tcp: &mut TcpStream| -> Result<String> {
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await??;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    };

    // Headers that never end: the connection is closed, not held.
    let mut slow = TcpStream::connect(server.addr).await?;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await?;
    let answer = read_all(&mut slow).await?;
    assert!(!answer.contains("ok"), "{answer}");

    // Nothing at all, or half an HTTP/2 preface: closed too, not held.
    for opening in [&b""[..], b"PRI * HTTP/2.0\r\n"] {
        let mut silent = TcpStream::connect(server.addr).await?;
        silent.write_all(opening).await?;
        assert_eq!(read_all(&mut silent).await?, "");
    }

    // Two connections held open: the third waits for one of them to close.
    let mut first = TcpStream::connect(server.addr).await?;
    let mut second = TcpStream::connect(server.addr).await?;
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await?;
    second
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await?;
    let mut buffer = [0u8; 256];
    assert!(first.read(&mut buffer).await? > 0 && second.read(&mut buffer).await? > 0);
    let mut third = TcpStream::connect(server.addr).await?;
    third.write_all(healthz).await?;
    let waiting = tokio::time::timeout(Duration::from_millis(300), third.read(&mut buffer)).await;
    assert!(waiting.is_err(), "served beyond the cap: {waiting:?}");
    drop(first);
    let answer = read_all(&mut third).await?;
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok\n"),
        "{answer}"
    );
    drop(second);

    // One session open at most: the second initialize gets 503 until the first is closed. (A
    // server of its own: with a 1 s idle close, a client's pooled connection races it.)
    let server = HttpServer::start(FIXTURE, &["--max-sessions", "1"])?;
    let mut one = RawSession::new(server.url("/mcp"));
    one.initialize().await?;
    let refused = RawSession::new(server.url("/mcp")).initialize().await;
    let refused = format!("{:#}", refused.unwrap_err());
    assert!(
        refused.contains("503") && refused.contains("too many open MCP sessions"),
        "{refused}"
    );
    assert_eq!(one.close().await?, 202);
    RawSession::new(server.url("/mcp")).initialize().await?;
    Ok(())
}
