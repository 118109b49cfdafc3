//! Table tests of Service defaulting, allocation and validation.

use serde_json::json;

use super::*;

#[test]
fn service_defaults_as_upstream() {
    let mut svc = json!({"spec": {"ports": [{"port": 80}], "selector": {"app": "web"}}});
    default_service(&mut svc);
    assert_eq!(
        svc["spec"],
        json!({"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
            "selector": {"app": "web"}, "sessionAffinity": "None", "type": "ClusterIP",
            "internalTrafficPolicy": "Cluster"})
    );
    let mut lb = json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": "https"}],
        "sessionAffinity": "ClientIP"}});
    default_service(&mut lb);
    assert_eq!(lb["spec"]["externalTrafficPolicy"], "Cluster");
    assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], true);
    assert_eq!(lb["spec"]["ports"][0]["targetPort"], "https");
    assert_eq!(
        lb["spec"]["sessionAffinityConfig"],
        json!({"clientIP": {"timeoutSeconds": 10800}})
    );
    let mut external = json!({"spec": {"type": "ExternalName", "externalName": "db.example.com"}});
    default_service(&mut external);
    assert!(external["spec"]["internalTrafficPolicy"].is_null());
}

#[test]
fn cluster_ips_and_node_ports_are_allocated_once() {
    let mut svc = json!({"spec": {"type": "NodePort", "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]}});
    default_service(&mut svc);
    let mut errors = FieldErrors::default();
    validate_and_allocate(&mut svc, None, Allocated::default, &mut errors);
    assert!(errors.0.is_empty(), "{:?}", errors.0);
    let ip: Ipv4Addr = svc["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
    assert!(in_range(ip), "{ip}");
    assert_eq!(svc["spec"]["clusterIPs"], json!([ip.to_string()]));
    assert_eq!(svc["spec"]["ipFamilies"], json!(["IPv4"]));
    assert_eq!(svc["spec"]["ipFamilyPolicy"], "SingleStack");
    let ports: Vec<i64> = (0..2)
        .map(|i| svc["spec"]["ports"][i]["nodePort"].as_i64().unwrap())
        .collect();
    assert!(ports.iter().all(|p| NODE_PORTS.contains(p)) && ports[0] != ports[1]);

    // An update that leaves the allocated values out keeps them.
    let mut update = json!({"spec": {"type": "NodePort", "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 8081}]}});
    default_service(&mut update);
    carry_over(&mut update, &svc);
    let mut errors = FieldErrors::default();
    validate_and_allocate(&mut update, Some(&svc), Allocated::default, &mut errors);
    assert!(errors.0.is_empty(), "{:?}", errors.0);
    assert_eq!(update["spec"]["clusterIP"], svc["spec"]["clusterIP"]);
    assert_eq!(update["spec"]["ports"][0]["nodePort"], ports[0]);
    assert_eq!(update["spec"]["ports"][1]["nodePort"], ports[1]);

    // Another Service asking for a taken address is refused.
    let mut other = json!({"spec": {"clusterIP": ip.to_string(), "ports": [{"port": 1}]}});
    let mut errors = FieldErrors::default();
    validate_and_allocate(
        &mut other,
        None,
        || Allocated::of([&svc].into_iter()),
        &mut errors,
    );
    assert_eq!(
        errors.lines(),
        [format!(
            "spec.clusterIPs: Invalid value: [\"{ip}\"]: failed to allocate IP {ip}: provided IP is already allocated"
        )]
    );
}

#[test]
fn service_errors_carry_upstream_field_paths() {
    let stored = json!({"spec": {"type": "ClusterIP", "clusterIP": "10.96.4.5",
        "clusterIPs": ["10.96.4.5"], "ports": [{"port": 80}]}});
    let cases = [
        (
            json!({"spec": {"type": "Foo", "ports": [{"port": 80}]}}),
            None,
            vec![
                "spec.type: Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
            ],
        ),
        (
            json!({"spec": {}}),
            None,
            vec!["spec.ports: Required value"],
        ),
        (json!({"spec": {"clusterIP": "None"}}), None, vec![]),
        (
            json!({"spec": {"ports": [{"port": 80}, {"port": 70000, "name": "b"}]}}),
            None,
            vec![
                "spec.ports[0].name: Required value",
                "spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
            ],
        ),
        (
            json!({"spec": {"type": "ExternalName"}}),
            None,
            vec!["spec.externalName: Required value"],
        ),
        (
            json!({"spec": {"clusterIP": "1.2.3.4", "ports": [{"port": 80}]}}),
            None,
            vec![
                "spec.clusterIPs: Invalid value: [\"1.2.3.4\"]: failed to allocate IP 1.2.3.4: provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12",
            ],
        ),
        (
            json!({"spec": {"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["10.96.4.5"], "ports": [{"port": 80}]}}),
            Some(&stored),
            vec!["spec.clusterIPs[0]: Invalid value: [\"None\"]: may not change once set"],
        ),
    ];
    for (mut new, old, want) in cases {
        default_service(&mut new);
        if let Some(old) = old {
            carry_over(&mut new, old);
        }
        let mut errors = FieldErrors::default();
        validate_and_allocate(&mut new, old, Allocated::default, &mut errors);
        assert_eq!(errors.lines(), want, "{new}");
    }
}
