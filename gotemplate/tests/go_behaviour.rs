//! Templates run as Go's text/template runs them: each case's expected text is what Go's
//! documentation and behaviour give for the same template and data.

use gotemplate::{Field, Struct, Value, render};

fn data() -> Value {
    let change = |old: &str, new: &str, setter: &str| {
        Value::structure(Struct {
            type_name: "update.Change".into(),
            fields: vec![
                field("OldValue", Value::str(old)),
                field("NewValue", Value::str(new)),
                field("Setter", Value::str(setter)),
            ],
            ..Struct::default()
        })
    };
    Value::structure(Struct {
        type_name: "main.Data".into(),
        fields: vec![
            field("Name", Value::str("web")),
            field("Count", Value::Int(3)),
            field("Empty", Value::str("")),
            field(
                "Tags",
                Value::list(
                    "[]string",
                    vec![Value::str("b"), Value::str("a"), Value::str("c")],
                ),
            ),
            field(
                "Values",
                Value::map(
                    "map[string]string",
                    Value::str(""),
                    vec![
                        (Value::str("zone"), Value::str("eu")),
                        (Value::str("cluster"), Value::str("prod")),
                    ],
                ),
            ),
            field(
                "Changes",
                Value::list(
                    "[]update.Change",
                    vec![change("1.0", "1.1", "ns:a"), change("2.0", "2.1", "ns:b")],
                ),
            ),
        ],
        ..Struct::default()
    })
}

fn field(name: &str, value: Value) -> Field {
    Field {
        name: name.into(),
        value,
        embedded: false,
        json: None,
    }
}

#[test]
fn templates_render_as_go_renders_them() {
    let cases: &[(&str, &str)] = &[
        ("plain text", "plain text"),
        ("{{ .Name }}-{{ .Count }}", "web-3"),
        ("a  {{- .Name -}}  b", "awebb"),
        ("a {{- /* note */ -}} b", "ab"),
        ("{{/* only a comment */}}x", "x"),
        (
            "{{ if .Empty }}yes{{ else if .Count }}count{{ else }}no{{ end }}",
            "count",
        ),
        ("{{ with .Name }}[{{ . }}]{{ end }}", "[web]"),
        (
            "{{ with .Empty }}x{{ else with .Name }}{{ . }}{{ end }}",
            "web",
        ),
        ("{{ range .Tags }}{{ . }},{{ end }}", "b,a,c,"),
        (
            "{{ range $i, $t := .Tags }}{{ $i }}={{ $t }} {{ end }}",
            "0=b 1=a 2=c ",
        ),
        (
            "{{ range $k, $v := .Values }}{{ $k }}:{{ $v }};{{ end }}",
            "cluster:prod;zone:eu;",
        ),
        ("{{ range .Values.nope }}{{ else }}none{{ end }}", "none"),
        ("{{ range list }}x{{ else }}empty{{ end }}", "empty"),
        ("{{ range 3 }}{{ . }}{{ end }}", "012"),
        (
            "{{ range .Tags }}{{ if eq . \"a\" }}{{ break }}{{ end }}{{ . }}{{ end }}",
            "b",
        ),
        (
            "{{ range .Tags }}{{ if eq . \"a\" }}{{ continue }}{{ end }}{{ . }}{{ end }}",
            "bc",
        ),
        (
            "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
            "2",
        ),
        (
            "{{ $x := .Name }}{{ range .Tags }}{{ $x }}{{ end }}",
            "webwebweb",
        ),
        (
            "{{ .Values.cluster }} {{ index .Values \"zone\" }} [{{ index .Values \"nope\" }}]",
            "prod eu []",
        ),
        ("{{ .Values.nope }}", "<no value>"),
        ("{{ .Tags }}", "[b a c]"),
        ("{{ .Values }}", "map[cluster:prod zone:eu]"),
        ("{{ index .Changes 0 }}", "{1.0 1.1 ns:a}"),
        (
            "{{ printf \"%+v\" (index .Changes 1) }}",
            "{OldValue:2.0 NewValue:2.1 Setter:ns:b}",
        ),
        (
            "{{ range .Changes }}{{ print .OldValue }} -> {{ println .NewValue }}{{ end }}",
            "1.0 -> 1.1\n2.0 -> 2.1\n",
        ),
        ("{{ len .Tags }} {{ len .Name }} {{ len .Values }}", "3 3 2"),
        (
            "{{ and 1 0 2 }} {{ or 0 \"\" \"x\" }} {{ not .Empty }}",
            "0 x true",
        ),
        ("{{ or .Empty .Name }}", "web"),
        (
            "{{ eq .Count 1 2 3 }} {{ ne .Name \"web\" }} {{ lt 1 2 }} {{ ge \"b\" \"a\" }}",
            "true false true true",
        ),
        ("{{ print 1 2 \"a\" 3 }}", "1 2a3"),
        (
            "{{ printf \"%05.1f|%-4d|%q\" 3.14159 7 \"x\" }}",
            "003.1|7   |\"x\"",
        ),
        ("{{ .Name | printf \"%s!\" }}", "web!"),
        ("{{ \"a\" | printf \"%s%s\" \"b\" }}", "ba"),
        ("{{ slice .Tags 1 }} {{ slice .Tags 1 2 }}", "[a c] [a]"),
        (
            "{{ html \"<a href='x'>\" }} {{ urlquery \"a b&c\" }} {{ js \"it's\" }}",
            "&lt;a href=&#39;x&#39;&gt; a+b%26c it\\'s",
        ),
        ("{{ `raw\\n` }}{{ \"\\tq\" }}{{ 'a' }}", "raw\\n\tq97"),
        (
            "{{ 0x1F }} {{ 1_000 }} {{ -2 }} {{ 1.5 }} {{ 1e3 }}",
            "31 1000 -2 1.5 1000",
        ),
        (
            "{{ define \"t\" }}<{{ . }}>{{ end }}{{ template \"t\" .Name }}",
            "<web>",
        ),
        ("{{ block \"b\" .Count }}[{{ . }}]{{ end }}", "[3]"),
        ("{{ (index .Changes 0).NewValue }}", "1.1"),
        ("{{ $c := index .Changes 1 }}{{ $c.Setter }}", "ns:b"),
        ("{{ range $.Tags }}{{ $.Name }}{{ end }}", "webwebweb"),
    ];
    let data = data();
    for (template, want) in cases {
        let got = render("t", template, &data);
        assert_eq!(got.as_deref(), Ok(*want), "template {template:?}");
    }
}

#[test]
fn errors_carry_gos_messages() {
    let cases: &[(&str, &str)] = &[
        (
            "{{ .Nope }}",
            "template: t:1:3: executing \"t\" at <.Nope>: can't evaluate field Nope in type main.Data",
        ),
        (
            "a\n  {{ .Name.X }}",
            "template: t:2:5: executing \"t\" at <.Name.X>: can't evaluate field X in type string",
        ),
        (
            "{{ nosuch 1 }}",
            "template: t:1: function \"nosuch\" not defined",
        ),
        ("{{ if .Name }}", "template: t:1: unexpected EOF"),
        ("{{ end }}", "template: t:1: unexpected {{end}}"),
        ("{{ $y }}", "template: t:1: undefined variable \"$y\""),
        ("{{ break }}", "template: t:1: {{break}} outside {{range}}"),
        ("{{ .Name", "template: t:1: unclosed action"),
        (
            "{{ lower 1 }}",
            "template: t:1:9: executing \"t\" at <1>: wrong type for value; expected string; got int",
        ),
        (
            "{{ lower \"a\" \"b\" }}",
            "template: t:1:3: executing \"t\" at <lower>: wrong number of args for lower: want 1 got 2",
        ),
        (
            "{{ index .Tags 5 }}",
            "template: t:1:3: executing \"t\" at <index>: error calling index: index out of range: 5",
        ),
        (
            "{{ eq .Count \"3\" }}",
            "template: t:1:3: executing \"t\" at <eq>: error calling eq: incompatible types for comparison",
        ),
        (
            "{{ nil | print }}",
            "template: t:1:3: executing \"t\" at <nil>: nil is not a command",
        ),
        (
            "{{ mustToDate \"2006-01-02\" \"2024-13-01\" }}",
            "template: t:1:3: executing \"t\" at <mustToDate>: error calling mustToDate: parsing time \"2024-13-01\": month out of range",
        ),
        (
            "{{ fail \"stop here\" }}",
            "template: t:1:3: executing \"t\" at <fail>: error calling fail: stop here",
        ),
        (
            "{{ template \"none\" }}",
            "template: t:1:12: executing \"t\" at <{{template \"none\"}}>: template \"none\" not defined",
        ),
    ];
    let data = data();
    for (template, want) in cases {
        let got = render("t", template, &data);
        let message = match got {
            Ok(out) => panic!("template {template:?} rendered {out:?}"),
            Err(e) => e.to_string(),
        };
        assert_eq!(&message, want, "template {template:?}");
    }
}

#[test]
fn sprig_functions_give_sprigs_results() {
    let cases: &[(&str, &str)] = &[
        (
            "{{ \"Hello World\" | lower }} {{ upper \"a\" }} {{ title \"hello world\" }}",
            "hello world A Hello World",
        ),
        (
            "{{ trunc 3 \"abcdef\" }} {{ trunc -2 \"abcdef\" }} {{ substr 1 3 \"abcdef\" }}",
            "abc ef bc",
        ),
        (
            "{{ trim \"  x \" }}|{{ trimAll \"$\" \"$5.00$\" }}|{{ trimPrefix \"v\" \"v1.2\" }}|{{ trimSuffix \".yaml\" \"a.yaml\" }}",
            "x|5.00|1.2|a",
        ),
        (
            "{{ contains \"5.0.3\" \"app:5.0.3\" }} {{ hasPrefix \"ap\" \"app\" }} {{ hasSuffix \"x\" \"app\" }}",
            "true true false",
        ),
        (
            "{{ replace \" \" \"-\" \"a b c\" }} {{ repeat 3 \"ab\" }} {{ nospace \"a b\\tc\" }}",
            "a-b-c ababab abc",
        ),
        (
            "{{ quote \"a\" 1 }} {{ squote \"b\" }} {{ cat \"a\" nil 2 }}",
            "\"a\" \"1\" 'b' a 2",
        ),
        (
            "{{ indent 2 \"a\\nb\" }}|{{ nindent 1 \"x\" }}",
            "  a\n  b|\n x",
        ),
        (
            "{{ abbrev 5 \"hello world\" }} {{ initials \"First Try\" }} {{ plural \"one\" \"many\" 2 }}",
            "he... FT many",
        ),
        (
            "{{ join \",\" .Tags }} {{ sortAlpha .Tags }} {{ splitList \",\" \"a,b\" }}",
            "b,a,c [a b c] [a b]",
        ),
        (
            "{{ $p := split \"$\" \"foo$bar\" }}{{ $p._0 }}-{{ $p._1 }}",
            "foo-bar",
        ),
        (
            "{{ add 1 2 3 }} {{ sub 5 2 }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ mod 7 2 }} {{ add1 \"4\" }} {{ max 1 5 3 }} {{ min 4 2 }}",
            "6 3 24 3 1 5 5 2",
        ),
        (
            "{{ until 3 }} {{ untilStep 0 10 4 }} {{ seq 3 }} {{ seq 5 3 }} {{ seq 0 5 12 }}",
            "[0 1 2] [0 4 8] 1 2 3 5 4 3 0 5 10",
        ),
        (
            "{{ round 3.746 2 }} {{ floor 1.5 }} {{ ceil 1.2 }} {{ int \"12\" }} {{ atoi \"x\" }} {{ toDecimal \"0777\" }}",
            "3.75 1 2 12 0 511",
        ),
        (
            "{{ default \"foo\" .Empty }} {{ default \"foo\" .Name }} {{ empty .Empty }} {{ coalesce 0 \"\" \"z\" }}",
            "foo web true z",
        ),
        (
            "{{ ternary \"y\" \"n\" true }} {{ all 1 \"a\" }} {{ any 0 \"\" }}",
            "y true false",
        ),
        (
            "{{ list 1 \"a\" 2 | toJson }} {{ dict \"b\" 1 \"a\" \"<\" | toJson }} {{ dict \"a\" \"<\" | toRawJson }}",
            "[1,\"a\",2] {\"a\":\"\\u003c\",\"b\":1} {\"a\":\"<\"}",
        ),
        ("{{ (fromJson \"{\\\"a\\\":[1,2]}\").a }}", "[1 2]"),
        (
            "{{ $d := dict \"a\" 1 }}{{ $_ := set $d \"b\" 2 }}{{ $d }} {{ hasKey $d \"b\" }} {{ get $d \"zz\" }}|{{ keys $d }}",
            "map[a:1 b:2] true |[a b]",
        ),
        (
            "{{ $d := dict \"a\" 1 \"b\" 2 }}{{ pick $d \"a\" }} {{ omit $d \"a\" }} {{ values $d }}",
            "map[a:1] map[b:2] [1 2]",
        ),
        (
            "{{ $a := dict \"x\" 1 }}{{ $b := dict \"x\" 2 \"y\" 3 }}{{ merge $a $b }} {{ dig \"y\" \"none\" $b }} {{ dig \"q\" \"z\" \"none\" $b }}",
            "map[x:1 y:3] 3 none",
        ),
        (
            "{{ first .Tags }} {{ last .Tags }} {{ rest .Tags }} {{ initial .Tags }} {{ reverse .Tags }}",
            "b c [a c] [b a] [c a b]",
        ),
        (
            "{{ append .Tags \"d\" }} {{ prepend .Tags \"z\" }} {{ concat .Tags (list 1) }} {{ has \"a\" .Tags }}",
            "[b a c d] [z b a c] [b a c 1] true",
        ),
        (
            "{{ list 1 1 2 | uniq }} {{ without .Tags \"a\" }} {{ list 0 \"\" 3 | compact }} {{ chunk 2 .Tags }}",
            "[1 2] [b c] [3] [[b a] [c]]",
        ),
        (
            "{{ sha256sum \"hello\" | trunc 12 }} {{ sha1sum \"a\" }} {{ adler32sum \"hello\" }}",
            "2cf24dba5fb0 86f7e437faa5a7fce15d1ddcb9eaeaea377667b8 103547413",
        ),
        (
            "{{ b64enc \"hello\" }} {{ b64dec \"aGVsbG8=\" }} {{ b32enc \"hi\" }} {{ b32dec \"NBUQ====\" }}",
            "aGVsbG8= hello NBUQ==== hi",
        ),
        (
            "{{ base \"a/b.yaml\" }} {{ dir \"a/b.yaml\" }} {{ ext \"b.yaml\" }} {{ clean \"a/../b\" }} {{ isAbs \"/x\" }}",
            "b.yaml a .yaml b true",
        ),
        (
            "{{ regexMatch \"^v[0-9]+$\" \"v12\" }} {{ regexFind \"[0-9]+\" \"ab12cd\" }} {{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"${1}W\" }} {{ regexFindAll \"a.\" \"a1a2a3\" 2 }}",
            "true 12 -W-xxW- [a1 a2]",
        ),
        (
            "{{ regexSplit \"z+\" \"pizza\" -1 }} {{ regexQuoteMeta \"1.2\" }} {{ regexReplaceAllLiteral \"a\" \"aa\" \"$1\" }}",
            "[pi a] 1\\.2 $1$1",
        ),
        (
            "{{ typeOf .Tags }} {{ kindOf .Values }} {{ typeIs \"string\" .Name }} {{ kindIs \"int\" 1 }} {{ deepEqual .Tags .Tags }}",
            "[]string map true true true",
        ),
        (
            "{{ toString 5 }} {{ toStrings (list 1 nil \"a\") }} {{ hello }}",
            "5 [1 a] Hello!",
        ),
        (
            "{{ toPrettyJson (dict \"a\" (list 1)) }}",
            "{\n  \"a\": [\n    1\n  ]\n}",
        ),
        (
            "{{ semverCompare \"^1.2.0\" \"1.4.5\" }} {{ semverCompare \">=2\" \"v1.9\" }} {{ semver \"1.2\" }} {{ (semver \"v1.2.3-beta\").Prerelease }}",
            "true false 1.2.0 beta",
        ),
        (
            "{{ $u := urlParse \"https://user:pw@example.com:8443/a%20b?x=1#frag\" }}{{ $u.hostname }}|{{ $u.host }}|{{ $u.path }}|{{ $u.query }}|{{ $u.userinfo }}|{{ $u.fragment }}",
            "example.com|example.com:8443|/a b|x=1|user:pw|frag",
        ),
        (
            "{{ urlJoin (dict \"scheme\" \"https\" \"host\" \"example.com\" \"path\" \"/a b\" \"query\" \"x=1\") }}",
            "https://example.com/a%20b?x=1",
        ),
        (
            "{{ addf 1.5 2 }} {{ addf 0.1 0.2 }} {{ divf 1 4 }} {{ mulf 1.1 2.2 }} {{ maxf 1 2.5 }}",
            "3.5 0.3 0.25 2.42 2.5",
        ),
        (
            "{{ duration \"95\" }} {{ durationRound \"2h10m\" }} {{ snakecase \"FirstName\" }} {{ kebabcase \"HTTPServer\" }} {{ camelcase \"http_server\" }}",
            "1m35s 2h first_name http-server HttpServer",
        ),
        (
            "{{ wrap 5 \"aaa bbb ccc\" }}|{{ wrapWith 3 \"-\" \"abcdef\" }}",
            "aaa\nbbb\nccc|abc-def",
        ),
        (
            "{{ toDate \"2006-01-02\" \"2024-05-01\" }}|{{ toDate \"2006-01-02\" \"2024-05-01\" | unixEpoch }}|{{ (toDate \"2006-01-02\" \"2024-05-01\").Year }}",
            "2024-05-01 00:00:00 +0000 UTC|1714521600|2024",
        ),
        (
            "{{ dateModify \"1.5h\" (toDate \"2006-01-02\" \"2024-05-01\") }}|{{ toDate \"2006-01-02\" \"bad\" }}",
            "2024-05-01 01:30:00 +0000 UTC|0001-01-01 00:00:00 +0000 UTC",
        ),
    ];
    let data = data();
    for (template, want) in cases {
        let got = render("t", template, &data);
        assert_eq!(got.as_deref(), Ok(*want), "template {template:?}");
    }
}

#[test]
fn hostile_templates_fail_cleanly() {
    // Recursion, huge repeats and huge ranges end in an error, not a hang or an abort.
    let recursion = "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}";
    assert!(render("t", recursion, &Value::Nil).is_err());
    assert!(render("t", "{{ repeat 100000000 \"abc\" }}", &Value::Nil).is_err());
    assert!(render("t", "{{ range until 100000000 }}x{{ end }}", &Value::Nil).is_err());
    let doubling = "{{ $x := \"ab\" }}{{ range until 60 }}{{ $x = printf \"%s%s\" $x $x }}{{ end }}{{ len $x }}";
    assert!(render("t", doubling, &Value::Nil).is_err());
    let forever = "{{ range until 1000000 }}{{ range until 1000000 }}{{ end }}{{ end }}";
    assert!(render("t", forever, &Value::Nil).is_err());
    assert!(render("t", "{{ indent 1000000000 \"x\" }}", &Value::Nil).is_err());
    assert!(
        render(
            "t",
            "{{ replace \"\" (repeat 1000000 \"y\") (repeat 100 \"x\") }}",
            &Value::Nil
        )
        .is_err()
    );
    assert_eq!(
        render("t", "{{ printf \"%01000001d|\" 1 }}", &Value::Nil).as_deref(),
        Ok("1|")
    );
    // Key generation is slow by design: a template gets a handful, not a loop of them.
    assert!(
        render(
            "t",
            "{{ range until 100 }}{{ genPrivateKey \"ecdsa\" }}{{ end }}",
            &Value::Nil
        )
        .is_err()
    );
    let output_bomb = "{{ $s := repeat 1000000 \"x\" }}{{ range 100 }}{{ $s }}{{ end }}";
    assert!(render("t", output_bomb, &Value::Nil).is_err());
    let deep_parens = format!("{{{{ {}1{} }}}}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(render("t", &deep_parens, &Value::Nil).is_err());
    let deep_ifs = format!(
        "{}x{}",
        "{{ if true }}".repeat(100_000),
        "{{ end }}".repeat(100_000)
    );
    assert!(render("t", &deep_ifs, &Value::Nil).is_err());
    let fine = format!("{}x{}", "{{ if true }}".repeat(50), "{{ end }}".repeat(50));
    assert_eq!(render("t", &fine, &Value::Nil).as_deref(), Ok("x"));
    for broken in [
        "{{",
        "{{ \"unterminated }}",
        "{{ (1 }}",
        "{{ 1) }}",
        "{{ 'ab' }}",
        "{{ .A | 3 }}",
        "{{ $x := }}",
    ] {
        assert!(render("t", broken, &Value::Nil).is_err(), "{broken:?}");
    }
}
