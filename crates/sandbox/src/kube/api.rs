//! The HTTP face of the simulated cluster: discovery, CRUD with selectors and Table output,
//! watch, the three patch types and server-side apply, the scale subresource, `dryRun=All`,
//! pod logs and `Status` errors, routed the way kube-apiserver routes them.

use std::{collections::HashMap, convert::Infallible, sync::Arc, time::Duration};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{FromRequestParts, Query, State},
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::get,
};
use futures::StreamExt;
use serde_json::{Value, json};

use super::{
    apply,
    cluster::Cluster,
    patch::{PatchType, apply},
    rbac,
    resources::{self, ResourceType, VERSION},
    selectors::{FieldSelector, LabelSelector},
    store::{ApiError, namespace_of},
    table,
};

type Params = HashMap<String, String>;

pub fn router(cluster: Arc<Cluster>) -> Router {
    Router::new()
        .route("/version", get(version))
        .route(
            "/api",
            get(
                |State(cluster): State<Arc<Cluster>>, headers: HeaderMap| async move {
                    discovery(&cluster, &headers, true)
                },
            ),
        )
        .route(
            "/apis",
            get(
                |State(cluster): State<Arc<Cluster>>, headers: HeaderMap| async move {
                    discovery(&cluster, &headers, false)
                },
            ),
        )
        .route(
            "/openapi/v2",
            get(|| async { axum::Json(super::openapi::v2_document()) }),
        )
        .route(
            "/openapi/v3",
            get(|State(cluster): State<Arc<Cluster>>| async move {
                let store = cluster.store();
                axum::Json(super::openapi::v3_discovery(&crds(&store)))
            }),
        )
        .route(
            "/openapi/v3/{*path}",
            get(|State(cluster): State<Arc<Cluster>>, uri: Uri| async move {
                let path = uri.path().trim_start_matches("/openapi/v3/");
                if let Some(document) = super::openapi::v3_document(path) {
                    return axum::Json(document).into_response();
                }
                let store = cluster.store();
                super::openapi::custom_document(path, &crds(&store))
                    .map_or_else(|| not_found(&uri), |d| axum::Json(d).into_response())
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .fallback(dispatch)
        .layer(axum::middleware::from_fn_with_state(
            cluster.clone(),
            authorize,
        ))
        .with_state(cluster)
}

/// Authenticate the bearer token and authorize the request by RBAC, as kube-apiserver does
/// before anything else; the subject travels on to the handler (for the self-subject reviews).
async fn authorize(
    State(cluster): State<Arc<Cluster>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|a| a.to_str().ok());
    let Some(subject) = cluster.users().authenticate(token) else {
        return error(&rbac::unauthorized(), None, None);
    };
    let watch = request.uri().query().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "watch" && (v == "true" || v == "1"))
    });
    let attributes = rbac::Attributes::of(request.method().as_str(), request.uri().path(), watch);
    if !rbac::authorize(&cluster.store(), &subject, &attributes).allowed {
        let mut status = rbac::forbidden(&subject, &attributes).status(None, None);
        if let Some(r) = &attributes.resource {
            let details = &mut status["details"];
            if !r.name.is_empty() {
                details["name"] = json!(r.name);
            }
            if !r.group.is_empty() {
                details["group"] = json!(r.group);
            }
            details["kind"] = json!(r.resource);
        }
        return json_response(StatusCode::FORBIDDEN, &status);
    }
    request.extensions_mut().insert(subject);
    next.run(request).await
}

/// The stored CustomResourceDefinitions.
fn crds(store: &super::store::Store) -> Vec<&Value> {
    let t = resources::find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .expect("the sandbox serves CRDs");
    store.list(t, None)
}

/// The media type of aggregated discovery, as clients ask for it in `Accept`.
const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// `/api` and `/apis`: aggregated discovery when the client accepts it (kubectl 1.30+),
/// else the legacy documents.
fn discovery(cluster: &Cluster, headers: &HeaderMap, core: bool) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .unwrap_or_default();
    let wants_aggregated = accept.split(',').any(|media| {
        media
            .replace(' ', "")
            .contains("g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    });
    if wants_aggregated {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, AGGREGATED)],
            serde_json::to_vec(&cluster.with_catalog(|c| c.aggregated(core))).unwrap_or_default(),
        )
            .into_response();
    }
    let legacy = if core {
        resources::core_versions()
    } else {
        cluster.with_catalog(|c| c.group_list())
    };
    json_response(StatusCode::OK, &legacy)
}

async fn version() -> Response {
    let (major, minor) = VERSION;
    json_response(
        StatusCode::OK,
        &json!({
            "major": major, "minor": minor,
            "gitVersion": format!("v{major}.{minor}.0-opsmcp-sandbox"),
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64",
        }),
    )
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(value).unwrap_or_default(),
    )
        .into_response()
}

fn error(e: &ApiError, t: Option<&ResourceType>, name: Option<&str>) -> Response {
    json_response(
        StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &e.status(t, name),
    )
}

fn not_found(uri: &Uri) -> Response {
    error(
        &ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("the server could not find the requested resource ({uri})"),
            causes: Vec::new(),
        },
        None,
        None,
    )
}

/// What a resource path names.
struct Target {
    t: &'static ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_target(
    catalog: resources::Catalog<'_>,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Option<Target> {
    let owned = |s: &&str| (*s).to_owned();
    if rest.first() == Some(&"namespaces")
        && rest.len() >= 3
        && let Some(t) = catalog.find(group, version, rest[2])
    {
        return Some(Target {
            t,
            namespace: Some(rest[1].to_owned()),
            name: rest.get(3).map(owned),
            sub: rest.get(4).map(owned),
        });
    }
    let t = catalog.find(group, version, rest.first()?)?;
    Some(Target {
        t,
        namespace: None,
        name: rest.get(1).map(owned),
        sub: rest.get(2).map(owned),
    })
}

/// The API server's limit on a request body (3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

async fn dispatch(
    State(cluster): State<Arc<Cluster>>,
    axum::Extension(subject): axum::Extension<rbac::Subject>,
    request: axum::extract::Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    // Only `pods/exec` upgrades; the extractor just reads the upgrade headers.
    let upgrade = axum::extract::ws::WebSocketUpgrade::from_request_parts(&mut parts, &()).await;
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let params: Params = Query::try_from_uri(&uri).map(|q| q.0).unwrap_or_default();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return error(
            &ApiError {
                code: 413,
                reason: "RequestEntityTooLarge",
                message: "the request body is larger than 3 MiB".into(),
                causes: Vec::new(),
            },
            None,
            None,
        );
    };
    let path = uri.path().to_owned();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", g] if method == Method::GET => {
            return cluster
                .with_catalog(|c| c.group(g))
                .map_or_else(|| not_found(&uri), |g| json_response(StatusCode::OK, &g));
        }
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return not_found(&uri),
    };
    if rest.is_empty() {
        return match cluster.with_catalog(|c| c.resource_list(group, version)) {
            Some(list) if method == Method::GET => json_response(StatusCode::OK, &list),
            _ => not_found(&uri),
        };
    }
    let Some(target) = cluster.with_catalog(|c| parse_target(c, group, version, rest)) else {
        return not_found(&uri);
    };
    let table = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"));
    let t = target.t;
    let ns = target.namespace.clone().unwrap_or_default();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or_default();
    let server_side_apply = content_type.starts_with(APPLY_PATCH);
    let body: Option<Value> = if body.is_empty() {
        None
    } else {
        let parsed = if server_side_apply {
            serde_saphyr::from_slice(&body).map_err(|e| e.to_string())
        } else if content_type.starts_with(super::protobuf::MEDIA_TYPE) {
            let kind = match target.sub.as_deref() {
                Some("eviction") => "Eviction",
                _ => t.kind,
            };
            super::protobuf::decode(kind, &body)
        } else {
            serde_json::from_slice(&body).map_err(|e| e.to_string())
        };
        match parsed {
            Ok(v) => Some(v),
            Err(e) => {
                return error(
                    &ApiError::bad_request(format!(
                        "the body of the request was in an unknown format: {e}"
                    )),
                    Some(t),
                    target.name.as_deref(),
                );
            }
        }
    };
    let dry_run = match dry_run(&params, &method, target.sub.as_deref(), body.as_ref()) {
        Ok(d) => d,
        Err(e) => return error(&e, Some(t), target.name.as_deref()),
    };
    if t.read_only && method != Method::GET {
        return error(&ApiError::method_not_allowed(t.plural), Some(t), None);
    }
    if t.is_review() {
        return match (&method, body) {
            (&Method::POST, Some(request)) => {
                match rbac::review(&cluster.store(), &subject, t.kind, request) {
                    Ok(answer) => json_response(StatusCode::CREATED, &answer),
                    Err(e) => error(&e, Some(t), None),
                }
            }
            (&Method::POST, None) => {
                error(&ApiError::bad_request("a body is required"), Some(t), None)
            }
            _ => error(&ApiError::method_not_allowed(t.plural), Some(t), None),
        };
    }
    let validation = FieldValidation::of(&params);
    // An object's own writes (a subresource such as `scale` has a type of its own).
    if matches!(method, Method::POST | Method::PUT)
        && matches!(target.sub.as_deref(), None | Some("status"))
        && let Some(object) = &body
        && let Err(refused) = validation.check(&cluster.store(), t, object)
    {
        return error(&refused, Some(t), target.name.as_deref());
    }
    match (&method, target.name.as_deref(), target.sub.as_deref()) {
        (&Method::GET, None, None) => {
            if params.get("watch").is_some_and(|w| w == "true" || w == "1") {
                return watch(&cluster, t, target.namespace.clone(), &params);
            }
            list(&cluster, t, target.namespace.as_deref(), &params, table)
        }
        (&Method::POST, None, None) => match body {
            Some(object) => {
                let ns = if ns.is_empty() {
                    namespace_of(&object).to_owned()
                } else {
                    ns
                };
                let mut object = object;
                apply::record_update(None, &mut object, &writer(t, &params, &headers));
                create(&cluster, t, &ns, object, dry_run)
            }
            None => error(&ApiError::bad_request("a body is required"), Some(t), None),
        },
        (&Method::GET, Some(name), None) => {
            let store = cluster.store();
            match store.get(t, &ns, name) {
                Some(o) if table => json_response(
                    StatusCode::OK,
                    &table::table(t, &[o], store.resource_version(), include(&params)),
                ),
                Some(o) => json_response(StatusCode::OK, o),
                None => error(&ApiError::not_found(t, name), Some(t), Some(name)),
            }
        }
        (&Method::PUT, Some(name), sub) if sub.is_none() || sub == Some("status") => {
            let Some(object) = body else {
                return error(
                    &ApiError::bad_request("a body is required"),
                    Some(t),
                    Some(name),
                );
            };
            let mut object = object;
            let mut store = cluster.store();
            if sub.is_none() {
                apply::record_update(
                    store.get(t, &ns, name),
                    &mut object,
                    &writer(t, &params, &headers),
                );
            }
            respond(store.update(t, &ns, name, object, dry_run), t, name)
        }
        (&Method::PATCH, Some(name), None) if server_side_apply => {
            let Some(config) = body else {
                return error(
                    &ApiError::bad_request("a patch body is required"),
                    Some(t),
                    Some(name),
                );
            };
            if let Err(refused) = validation.check(&cluster.store(), t, &config) {
                return error(&refused, Some(t), Some(name));
            }
            server_side_apply_patch(&cluster, t, &ns, name, config, &params, dry_run)
        }
        (&Method::PATCH, Some(name), sub) if sub.is_none() || sub == Some("status") => {
            let Some(kind) = PatchType::from_content_type(content_type) else {
                return error(
                    &ApiError {
                        code: 415,
                        reason: "UnsupportedMediaType",
                        message: format!(
                            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, {APPLY_PATCH}, application/strategic-merge-patch+json"
                        ),
                        causes: Vec::new(),
                    },
                    Some(t),
                    Some(name),
                );
            };
            let Some(patch) = body else {
                return error(
                    &ApiError::bad_request("a patch body is required"),
                    Some(t),
                    Some(name),
                );
            };
            let mut store = cluster.store();
            let Some(current) = store.get(t, &ns, name).cloned() else {
                return error(&ApiError::not_found(t, name), Some(t), Some(name));
            };
            match apply(kind, &current, &patch) {
                Ok(mut patched) => {
                    if let Err(refused) = validation.check(&store, t, &patched) {
                        return error(&refused, Some(t), Some(name));
                    }
                    // A patch that does not name a resourceVersion applies to the current one.
                    if patch.pointer("/metadata/resourceVersion").is_none() {
                        patched["metadata"]["resourceVersion"] =
                            current["metadata"]["resourceVersion"].clone();
                    }
                    if sub.is_none() {
                        apply::record_update(
                            Some(&current),
                            &mut patched,
                            &writer(t, &params, &headers),
                        );
                    }
                    respond(store.update(t, &ns, name, patched, dry_run), t, name)
                }
                Err(e) => error(
                    &ApiError::invalid(t, name, format!("patch: {e}")),
                    Some(t),
                    Some(name),
                ),
            }
        }
        (&Method::DELETE, Some(name), None) => {
            let grace = params
                .get("gracePeriodSeconds")
                .and_then(|g| g.parse().ok())
                .or_else(|| body.as_ref().and_then(|b| b["gracePeriodSeconds"].as_i64()));
            let deleted = cluster.delete(t, &ns, name, dry_run, grace);
            if let Ok(crd) = &deleted
                && t.kind == "CustomResourceDefinition"
                && !dry_run
            {
                cluster.unregister_crd(crd);
            }
            respond(deleted, t, name)
        }
        (_, Some(name), Some("scale")) if t.kind == "Deployment" || t.kind == "ReplicaSet" => {
            scale(&cluster, t, &ns, name, &method, &headers, body, dry_run)
        }
        (&Method::GET, Some(name), Some("status")) => match cluster.store().get(t, &ns, name) {
            Some(o) => json_response(StatusCode::OK, o),
            None => error(&ApiError::not_found(t, name), Some(t), Some(name)),
        },
        (&Method::POST, Some(name), Some("eviction")) if t.kind == "Pod" => {
            let grace = body
                .as_ref()
                .and_then(|b| b.pointer("/deleteOptions/gracePeriodSeconds"))
                .and_then(Value::as_i64);
            match super::disruption::evict(&cluster, &ns, name, grace, dry_run) {
                Ok(status) => json_response(StatusCode::CREATED, &status),
                Err(e) => error(&e, Some(t), Some(name)),
            }
        }
        (&Method::GET | &Method::POST, Some(name), Some("exec")) if t.kind == "Pod" => {
            let argv: Vec<String> =
                form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                    .filter(|(k, _)| k == "command")
                    .map(|(_, v)| v.into_owned())
                    .collect();
            if argv.is_empty() {
                return error(
                    &ApiError::bad_request("you must specify at least 1 command"),
                    Some(t),
                    Some(name),
                );
            }
            let found = super::exec::container_of(
                &cluster.store(),
                &ns,
                name,
                params.get("container").map(String::as_str),
            );
            let (pod, container) = match found {
                Ok(found) => found,
                Err(e) => return error(&e, Some(t), Some(name)),
            };
            let Ok(upgrade) = upgrade else {
                return error(
                    &ApiError::bad_request("Upgrade request required"),
                    Some(t),
                    Some(name),
                );
            };
            let result = super::exec::run(&cluster, &pod, &container, &argv);
            super::exec::serve(upgrade, argv, result)
        }
        (&Method::GET, Some(name), Some("proxy")) if t.kind == "Node" => {
            let path = rest.get(3..).unwrap_or_default().join("/");
            match super::node_proxy::get(&cluster, name, &path) {
                Ok((content_type, body)) => {
                    ([(header::CONTENT_TYPE, content_type)], body).into_response()
                }
                Err(e) => error(&e, Some(t), Some(name)),
            }
        }
        (&Method::GET, Some(name), Some("log")) if t.kind == "Pod" => {
            logs(&cluster, &ns, name, &params).await
        }
        _ => error(
            &ApiError::method_not_allowed(&format!("{method} {path}")),
            Some(t),
            target.name.as_deref(),
        ),
    }
}

/// The media type of a server-side apply.
const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// Who writes, for `managedFields`: the `fieldManager` parameter, else the client's
/// `User-Agent` up to its first `/` (as the API server derives it).
fn writer<'a>(
    t: &'a ResourceType,
    params: &'a Params,
    headers: &'a HeaderMap,
) -> apply::Writer<'a> {
    let manager = params.get("fieldManager").map_or_else(
        || {
            headers
                .get(header::USER_AGENT)
                .and_then(|u| u.to_str().ok())
                .and_then(|u| u.split('/').next())
                .filter(|u| !u.is_empty())
                .unwrap_or("unknown")
        },
        String::as_str,
    );
    apply::Writer::new(manager, t)
}

/// Create `object`, registering a CustomResourceDefinition's types.
/// Whether a request asks for a dry run, as the API server reads it: from the query string on
/// every verb and, for a delete or an eviction, from the `DeleteOptions` in the body, which is
/// where kubectl and kube-rs send it. `All` is the one value; anything else is refused.
fn dry_run(
    params: &Params,
    method: &Method,
    sub: Option<&str>,
    body: Option<&Value>,
) -> Result<bool, ApiError> {
    let options = match (method, sub) {
        (&Method::DELETE, None) => body,
        (&Method::POST, Some("eviction")) => body.and_then(|b| b.get("deleteOptions")),
        _ => None,
    };
    let mut values: Vec<&str> = params
        .get("dryRun")
        .map(String::as_str)
        .into_iter()
        .collect();
    if let Some(list) = options
        .and_then(|o| o.get("dryRun"))
        .and_then(Value::as_array)
    {
        values.extend(list.iter().map(|v| v.as_str().unwrap_or_default()));
    }
    match values.iter().find(|v| **v != "All") {
        Some(bad) => Err(ApiError::bad_request(format!(
            "dryRun: Unsupported value: \"{bad}\": supported values: \"All\""
        ))),
        None => Ok(!values.is_empty()),
    }
}

fn create(cluster: &Cluster, t: &ResourceType, ns: &str, object: Value, dry_run: bool) -> Response {
    let result = cluster.store().create(t, ns, object, dry_run);
    match result {
        Ok(o) if t.kind == "CustomResourceDefinition" && !dry_run => {
            cluster.register_crd(&o);
            let name = o
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let stored = cluster.store().get(t, "", name).cloned().unwrap_or(o);
            json_response(StatusCode::CREATED, &stored)
        }
        Ok(o) => json_response(StatusCode::CREATED, &o),
        Err(e) => error(&e, Some(t), None),
    }
}

/// `PATCH` with `application/apply-patch+yaml`: the manager's configuration merged into the
/// object (created when missing), 409 with the conflicting fields and their managers.
fn server_side_apply_patch(
    cluster: &Cluster,
    t: &ResourceType,
    ns: &str,
    name: &str,
    config: Value,
    params: &Params,
    dry_run: bool,
) -> Response {
    let Some(manager) = params.get("fieldManager").filter(|m| !m.is_empty()) else {
        return error(
            &ApiError::invalid_options("fieldManager: Required value: is required for apply patch"),
            Some(t),
            Some(name),
        );
    };
    if config["apiVersion"] != t.api_version() || config["kind"] != t.kind {
        return error(
            &ApiError::bad_request(format!(
                "invalid object type: {}, Kind={}",
                config["apiVersion"].as_str().unwrap_or_default(),
                config["kind"].as_str().unwrap_or_default()
            )),
            Some(t),
            Some(name),
        );
    }
    if super::store::name_of(&config) != name {
        return error(
            &ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                super::store::name_of(&config)
            )),
            Some(t),
            Some(name),
        );
    }
    let force = params.get("force").is_some_and(|f| f == "true");
    let writer = apply::Writer::new(manager, t);
    let live = cluster.store().get(t, ns, name).cloned();
    match apply::apply(live.as_ref(), &config, &writer, force) {
        Ok(object) if live.is_none() => create(cluster, t, ns, object, dry_run),
        Ok(object) => respond(
            cluster.store().update(t, ns, name, object, dry_run),
            t,
            name,
        ),
        Err(conflicts) => error(&apply::conflict_error(&conflicts), Some(t), Some(name)),
    }
}

/// `fieldValidation` of a write: `Strict` refuses fields the type does not declare, as the API
/// server does (kubectl asks for it when the OpenAPI document says the server supports it);
/// `Ignore`, `Warn` and no value drop them (the sandbox does not send warnings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldValidation {
    Strict,
    Lenient,
}

impl FieldValidation {
    fn of(params: &Params) -> Self {
        match params.get("fieldValidation").map(String::as_str) {
            Some("Strict") => Self::Strict,
            _ => Self::Lenient,
        }
    }

    fn check(
        self,
        store: &super::store::Store,
        t: &ResourceType,
        object: &Value,
    ) -> Result<(), ApiError> {
        if self == Self::Lenient {
            return Ok(());
        }
        let unknown = if resources::find(t.group, t.version, t.plural).is_some() {
            super::schema::unknown_fields(t.kind, object)
        } else {
            // A custom resource: against its CRD's schema for this version.
            crds(store)
                .iter()
                .find(|c| c["spec"]["group"] == t.group && c["spec"]["names"]["plural"] == t.plural)
                .and_then(|crd| super::openapi::served_versions(crd).find(|(v, _)| *v == t.version))
                .map_or_else(Vec::new, |(_, schema)| {
                    super::schema::unknown_custom_fields(object, schema)
                })
        };
        if unknown.is_empty() {
            return Ok(());
        }
        let fields: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        Err(ApiError::undecodable(
            t,
            format!("strict decoding error: {}", fields.join(", ")),
        ))
    }
}

fn respond(result: Result<Value, ApiError>, t: &ResourceType, name: &str) -> Response {
    match result {
        Ok(o) => json_response(StatusCode::OK, &o),
        Err(e) => error(&e, Some(t), Some(name)),
    }
}

fn include(params: &Params) -> &str {
    params
        .get("includeObject")
        .map_or("Metadata", String::as_str)
}

/// The objects a list or watch selects.
fn selected<'a>(objects: Vec<&'a Value>, params: &Params) -> Result<Vec<&'a Value>, ApiError> {
    let labels = LabelSelector::parse(params.get("labelSelector").map_or("", String::as_str))
        .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(params.get("fieldSelector").map_or("", String::as_str))
        .map_err(ApiError::bad_request)?;
    Ok(objects
        .into_iter()
        .filter(|o| labels.matches(o.pointer("/metadata/labels")) && fields.matches(o))
        .collect())
}

fn list(
    cluster: &Cluster,
    t: &ResourceType,
    namespace: Option<&str>,
    params: &Params,
    table: bool,
) -> Response {
    let objects = cluster.listed(t, namespace);
    let objects: Vec<&Value> = objects.iter().collect();
    let items = match selected(objects, params) {
        Ok(items) => items,
        Err(e) => return error(&e, Some(t), None),
    };
    let rv = cluster.store().resource_version();
    if table {
        return json_response(
            StatusCode::OK,
            &table::table(t, &items, rv, include(params)),
        );
    }
    json_response(
        StatusCode::OK,
        &json!({
            "kind": format!("{}List", t.kind),
            "apiVersion": t.api_version(),
            "metadata": { "resourceVersion": rv.to_string() },
            "items": items,
        }),
    )
}

/// A watch: the current objects as ADDED (unless a resourceVersion was given), then every
/// change, until `timeoutSeconds` or the client leaves.
fn watch(
    cluster: &Arc<Cluster>,
    t: &'static ResourceType,
    namespace: Option<String>,
    params: &Params,
) -> Response {
    let (mut changes, initial) = {
        let store = cluster.store();
        let changes = store.subscribe();
        let since: Option<u64> = params
            .get("resourceVersion")
            .and_then(|rv| rv.parse().ok())
            .filter(|rv| *rv > 0);
        let initial: Vec<Value> = if since.is_some() {
            Vec::new()
        } else {
            store
                .list(t, namespace.as_deref())
                .into_iter()
                .cloned()
                .collect()
        };
        (changes, initial)
    };
    let params = params.clone();
    let initial = match selected(initial.iter().collect(), &params) {
        Ok(items) => items.into_iter().cloned().collect::<Vec<_>>(),
        Err(e) => return error(&e, Some(t), None),
    };
    let timeout = params
        .get("timeoutSeconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1800u64)
        .min(3600);
    let key = t.key();
    let stream = async_stream(move |tx| async move {
        for object in initial {
            if tx.send(event_line("ADDED", &object)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => return,
                change = changes.recv() => {
                    let Ok(change) = change else { return };
                    if change.type_key != key || namespace.as_ref().is_some_and(|n| *n != change.namespace) {
                        continue;
                    }
                    if selected(vec![&change.object], &params).map(|v| v.is_empty()).unwrap_or(true) {
                        continue;
                    }
                    if tx.send(event_line(change.kind, &change.object)).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::TRANSFER_ENCODING, "chunked")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line =
        serde_json::to_vec(&json!({ "type": kind, "object": object })).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// A stream fed by a task through a bounded channel.
fn async_stream<F, Fut>(f: F) -> impl futures::Stream<Item = Result<Bytes, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Bytes>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok)
}

/// The `autoscaling/v1` Scale of a deployment or replica set: GET, PUT, PATCH.
#[allow(clippy::too_many_arguments)]
fn scale(
    cluster: &Cluster,
    t: &ResourceType,
    ns: &str,
    name: &str,
    method: &Method,
    headers: &HeaderMap,
    body: Option<Value>,
    dry_run: bool,
) -> Response {
    let mut store = cluster.store();
    let Some(current) = store.get(t, ns, name).cloned() else {
        return error(&ApiError::not_found(t, name), Some(t), Some(name));
    };
    let as_scale = |o: &Value| {
        json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": name, "namespace": ns,
                "uid": o["metadata"]["uid"], "resourceVersion": o["metadata"]["resourceVersion"],
                "creationTimestamp": o["metadata"]["creationTimestamp"],
            },
            "spec": { "replicas": o.pointer("/spec/replicas").cloned().unwrap_or(json!(1)) },
            "status": {
                "replicas": o.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
                "selector": LabelSelector::to_string_from_object(o.pointer("/spec/selector").unwrap_or(&Value::Null)),
            },
        })
    };
    let scale_now = as_scale(&current);
    let wanted = match *method {
        Method::GET => return json_response(StatusCode::OK, &scale_now),
        Method::PUT => match body {
            Some(b) => {
                if let Some(rv) = b
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    && !rv.is_empty()
                    && Some(rv)
                        != current
                            .pointer("/metadata/resourceVersion")
                            .and_then(Value::as_str)
                {
                    return error(&ApiError::conflict(t, name), Some(t), Some(name));
                }
                b
            }
            None => {
                return error(
                    &ApiError::bad_request("a body is required"),
                    Some(t),
                    Some(name),
                );
            }
        },
        Method::PATCH => {
            let kind = headers
                .get(header::CONTENT_TYPE)
                .and_then(|c| c.to_str().ok())
                .and_then(PatchType::from_content_type)
                .unwrap_or(PatchType::Merge);
            match body.as_ref().map(|p| apply(kind, &scale_now, p)) {
                Some(Ok(s)) => s,
                Some(Err(e)) => return error(&ApiError::invalid(t, name, e), Some(t), Some(name)),
                None => {
                    return error(
                        &ApiError::bad_request("a patch body is required"),
                        Some(t),
                        Some(name),
                    );
                }
            }
        }
        _ => return error(&ApiError::method_not_allowed("scale"), Some(t), Some(name)),
    };
    let Some(replicas) = wanted
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .filter(|r| *r >= 0)
    else {
        return error(
            &ApiError::invalid(
                t,
                name,
                "spec.replicas: Invalid value: must be greater than or equal to 0",
            ),
            Some(t),
            Some(name),
        );
    };
    let mut updated = current.clone();
    updated["spec"]["replicas"] = json!(replicas);
    match store.update(t, ns, name, updated, dry_run) {
        Ok(o) => json_response(StatusCode::OK, &as_scale(&o)),
        Err(e) => error(&e, Some(t), Some(name)),
    }
}

/// `pods/<name>/log`: plain text, with `container`, `tailLines`, `sinceSeconds`, `previous`
/// and a bounded `follow`.
async fn logs(cluster: &Arc<Cluster>, ns: &str, pod: &str, params: &Params) -> Response {
    let t = resources::find("", "v1", "pods").unwrap();
    let found = super::store::pod_container(
        &cluster.store(),
        ns,
        pod,
        params.get("container").map(String::as_str),
    );
    let container = match found {
        Ok((_, container)) => container,
        Err(e) => return error(&e, Some(t), Some(pod)),
    };
    let previous = params.get("previous").is_some_and(|p| p == "true");
    let tail: Option<usize> = params.get("tailLines").and_then(|n| n.parse().ok());
    let since: Option<i64> = params.get("sinceSeconds").and_then(|n| n.parse().ok());
    let lines = match cluster.logs(ns, pod, &container, previous) {
        Ok(lines) => lines,
        Err(message) => return error(&ApiError::bad_request(message), Some(t), Some(pod)),
    };
    let cutoff = since.map(|s| jiff::Timestamp::now().as_second() - s);
    let mut selected: Vec<String> = lines
        .into_iter()
        .filter(|(at, _)| cutoff.is_none_or(|c| *at >= c))
        .map(|(_, line)| line)
        .collect();
    if let Some(n) = tail {
        selected = selected.split_off(selected.len().saturating_sub(n));
    }
    let mut text = selected.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    if params.get("follow").is_some_and(|f| f == "true") && !previous {
        // Follow for a bounded time, then end the stream.
        let (cluster, ns, pod) = (cluster.clone(), ns.to_owned(), pod.to_owned());
        let seen = cluster.log_len(&ns, &pod, &container);
        let stream = async_stream(move |tx| async move {
            let _ = tx.send(Bytes::from(text)).await;
            let mut seen = seen;
            for _ in 0..60 {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let lines = cluster
                    .logs(&ns, &pod, &container, false)
                    .unwrap_or_default();
                for (_, line) in lines.iter().skip(seen) {
                    if tx.send(Bytes::from(format!("{line}\n"))).await.is_err() {
                        return;
                    }
                }
                seen = lines.len();
            }
        });
        return Response::builder()
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from_stream(stream))
            .unwrap();
    }
    ([(header::CONTENT_TYPE, "text/plain")], text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_targets() {
        let c = resources::Catalog { custom: &[] };
        let t = parse_target(c, "", "v1", &["namespaces", "shop", "pods", "web-1", "log"]).unwrap();
        assert_eq!(
            (
                t.t.kind,
                t.namespace.as_deref(),
                t.name.as_deref(),
                t.sub.as_deref()
            ),
            ("Pod", Some("shop"), Some("web-1"), Some("log"))
        );
        let t = parse_target(c, "", "v1", &["namespaces", "shop"]).unwrap();
        assert_eq!((t.t.kind, t.name.as_deref()), ("Namespace", Some("shop")));
        let t = parse_target(c, "", "v1", &["pods"]).unwrap();
        assert_eq!((t.t.kind, t.namespace), ("Pod", None));
        assert!(parse_target(c, "", "v1", &["nothing"]).is_none());
    }
}
