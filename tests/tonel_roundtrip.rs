//! Writer tests: Pharo-written files come back byte-identical; any model survives
//! write-then-read; the reader never panics, whatever the bytes.

use std::path::{Path, PathBuf};

use hotpatch::model::{ClassDef, ClassKind, Extension, MethodDef, Package, Side};
use hotpatch::tonel::{self, ParsedFile};
use proptest::prelude::*;

fn fixture_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tonel/v3");
    let mut files = Vec::new();
    for pkg in std::fs::read_dir(&root).unwrap() {
        let pkg = pkg.unwrap().path();
        if pkg.is_dir() {
            for f in std::fs::read_dir(&pkg).unwrap() {
                files.push(f.unwrap().path());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn pharo_written_files_are_rewritten_byte_identical() {
    let files = fixture_files();
    assert!(files.len() >= 6);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let written = match tonel::parse_file(&path, &text).unwrap() {
            ParsedFile::Class(c) => tonel::write_class_file(&c).unwrap(),
            ParsedFile::Extension(e) => tonel::write_extension_file(&e).unwrap(),
            ParsedFile::Package(p) => tonel::write_package_file(&p),
        };
        assert_eq!(written, text, "{}", path.display());
    }
}

/// Files in the styles other Pharo versions wrote (`tests/fixtures/tonel/styles`, written by
/// us): v1 (symbols), v2 (strings, no `#package`), v3 extension files with `classSide`.
#[test]
fn files_of_every_style_are_rewritten_byte_identical() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tonel/styles");
    let (repo, errors) = tonel::read_repository(&root).unwrap();
    assert!(errors.is_empty(), "{errors:#?}");
    let mut checked = 0;
    for package in &repo.packages {
        let classes = package.classes.iter().map(|c| {
            let origin = c.origin.as_ref().unwrap();
            (origin.path.clone(), tonel::write_class_file(c).unwrap())
        });
        let extensions = package.extensions.iter().map(|e| {
            let origin = e.origin.as_ref().unwrap();
            (origin.path.clone(), tonel::write_extension_file(e).unwrap())
        });
        for (path, written) in classes.chain(extensions) {
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(written, text, "{}", path.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 5);
    assert_eq!(repo.packages.len(), 3);
}

#[test]
fn write_repository_then_read_gives_the_same_model() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tonel/v3");
    let (repo, errors) = tonel::read_repository(&src).unwrap();
    assert!(errors.is_empty());
    let dir = temp_dir("repo");
    tonel::write_repository(&repo, &dir).unwrap();
    let (again, errors) = tonel::read_repository(&dir).unwrap();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(strip(again.packages), strip(repo.packages));
    let _ = std::fs::remove_dir_all(&dir);
}

fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "hotpatch-tonel-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Drops what only a read can know (spans, origins, paths) and puts methods in the order the
/// writer uses (class side first, then by selector).
fn strip(mut packages: Vec<Package>) -> Vec<Package> {
    fn methods(ms: &mut [MethodDef]) {
        for m in ms.iter_mut() {
            m.span = None;
        }
        ms.sort_by(|a, b| {
            (a.side != Side::Class, &a.selector).cmp(&(b.side != Side::Class, &b.selector))
        });
    }
    for p in &mut packages {
        p.path = None;
        for c in &mut p.classes {
            c.origin = None;
            methods(&mut c.methods);
        }
        for e in &mut p.extensions {
            e.origin = None;
            methods(&mut e.methods);
        }
    }
    packages
}

// ---- generators -------------------------------------------------------------------------

fn ident() -> impl Strategy<Value = String> {
    "[a-z][a-zA-Z0-9_]{0,6}".prop_filter("not a pseudo-variable", |s| {
        !matches!(s.as_str(), "class" | "classSide")
    })
}

fn class_name() -> impl Strategy<Value = String> {
    "[A-Z][a-zA-Z0-9]{0,8}"
}

/// Body pieces; each starts with a character that cannot continue an argument name, so that
/// it never merges with the pattern. Some look like more of the pattern: an assignment with no
/// space before `:=` (the writer once took `via1:` for a keyword and changed the selector),
/// keyword messages, temporaries named like the keywords, a comment or a dot right after the
/// last argument.
fn body_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\n\tvia1:= b".to_string()),
        Just("\n\tat:= 3".to_string()),
        Just(" at: 1 put: 2".to_string()),
        Just("\n\t| at put via1 |".to_string()),
        Just("\"trailing: comment\"".to_string()),
        Just(".".to_string()),
        Just("^ at".to_string()),
        Just("\n\t^ 1".to_string()),
        Just(" $]".to_string()),
        Just(" $[ $' $\" $$ $ ".to_string()),
        Just("\n\t'a]b''c['".to_string()),
        Just("\n\t\"comment ] with \"\" quote\"".to_string()),
        Just(" #(#] #[ foo: ( x ] ) $) ')' )".to_string()),
        Just(" #[1 2 255]".to_string()),
        Just("\n\t[:x | [ :y | x + y ] ]".to_string()),
        Just(" { 16r1F. 1.5s2. 2e10. -3 }".to_string()),
        Just(" #foo:bar: #+ #'a b' ##sym".to_string()),
        Just("\n\t| größe | größe := 'naïve ∑ 🙂'".to_string()),
        Just("\n".to_string()),
        Just(" ".to_string()),
        Just("\t".to_string()),
        Just("\n\n".to_string()),
    ]
}

/// (selector, declaration): every pattern shape, keyword parts separated by whitespace or by
/// comments (`at: i "the slot" put: v`), sometimes a comment before the pattern.
fn pattern() -> impl Strategy<Value = (String, String)> {
    (
        bare_pattern(),
        prop_oneof![Just(""), Just(""), Just("\"lead: x\" ")],
    )
        .prop_map(|((selector, decl), lead)| (selector, format!("{lead}{decl}")))
}

fn bare_pattern() -> impl Strategy<Value = (String, String)> {
    let sep = prop_oneof![
        Just(" "),
        Just("  "),
        Just("\n\t\t"),
        Just(" \"the: slot\" "),
        Just("\"c\""),
        Just("\n\t\"[note]\"\n\t")
    ];
    prop_oneof![
        ident().prop_map(|s| (s.clone(), s)),
        (
            prop_oneof![
                Just("+"),
                Just("->"),
                Just("==>"),
                Just(","),
                Just("~="),
                Just("<="),
                Just("@")
            ],
            ident()
        )
            .prop_map(|(op, arg)| (op.to_string(), format!("{op} {arg}"))),
        prop::collection::vec((ident(), ident(), sep), 1..4).prop_map(|parts| {
            let mut selector = String::new();
            let mut decl = String::new();
            for (i, (kw, arg, sep)) in parts.iter().enumerate() {
                if i > 0 {
                    decl.push_str(sep);
                }
                selector.push_str(kw);
                selector.push(':');
                decl.push_str(&format!("{kw}: {arg}"));
            }
            (selector, decl)
        }),
    ]
}

fn text() -> impl Strategy<Value = String> {
    "[ -~éü∑\n\t\"'\\\\]{0,40}"
}

fn method(class: String) -> impl Strategy<Value = MethodDef> {
    (
        pattern(),
        prop::collection::vec(body_piece(), 0..5),
        text().prop_filter("no CR", |s| !s.contains('\r')),
        prop_oneof![Just(Side::Instance), Just(Side::Class)],
    )
        .prop_map(move |((selector, decl), body, protocol, side)| MethodDef {
            class_name: class.clone(),
            side,
            selector,
            protocol,
            source: format!("{decl}{}", body.concat()),
            span: None,
        })
}

fn methods(class: String) -> impl Strategy<Value = Vec<MethodDef>> {
    prop::collection::vec(method(class), 0..6).prop_map(|mut ms| {
        // One definition per (side, selector), as in an image.
        let mut seen = std::collections::HashSet::new();
        ms.retain(|m| seen.insert((m.side, m.selector.clone())));
        ms
    })
}

fn names() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-zA-Z][a-zA-Z0-9]{0,5}", 0..4)
}

fn class_def(package: String, tags: Vec<String>) -> impl Strategy<Value = ClassDef> {
    (
        class_name(),
        prop_oneof![Just(ClassKind::Class), Just(ClassKind::Trait)],
        prop::option::of(class_name()),
        prop::option::of(prop_oneof![
            Just("variable"),
            Just("bytes"),
            Just("words"),
            Just("weak"),
            Just("ephemeron"),
            Just("immediate"),
            Just("compiledMethod"),
            Just("DoubleWordLayout")
        ]),
        (names(), names(), names(), names()),
        (
            prop::option::of(Just("TFoo + TBar".to_string())),
            prop::option::of(Just("TFoo classTrait".to_string())),
        ),
        prop::option::of(prop::sample::select(if tags.is_empty() {
            vec!["Core".to_string()]
        } else {
            tags
        })),
        prop::option::of(
            text().prop_filter("non-empty, no CR", |s| !s.is_empty() && !s.contains('\r')),
        ),
    )
        .prop_flat_map(
            move |(name, kind, sup, layout, vars, traits, tag, comment)| {
                let class = ClassDef {
                    kind,
                    name: name.clone(),
                    superclass: if kind == ClassKind::Trait { None } else { sup },
                    layout: layout.map(str::to_string),
                    inst_vars: vars.0,
                    class_vars: vars.1,
                    pools: vars.2,
                    class_inst_vars: vars.3,
                    traits: traits.0,
                    class_traits: traits.1,
                    package: package.clone(),
                    tag,
                    comment,
                    methods: Vec::new(),
                    origin: None,
                };
                methods(name).prop_map(move |ms| ClassDef {
                    methods: ms,
                    ..class.clone()
                })
            },
        )
}

fn extension() -> impl Strategy<Value = Extension> {
    class_name().prop_flat_map(|name| {
        methods(name.clone()).prop_map(move |ms| Extension {
            class_name: name.clone(),
            methods: ms,
            origin: None,
        })
    })
}

fn package() -> impl Strategy<Value = Package> {
    (
        "[A-Z][a-z]{1,6}(-[A-Z][a-z]{1,6})?",
        prop::collection::vec("[A-Z][a-z]{1,6}", 0..3),
    )
        .prop_flat_map(|(name, tags)| {
            (
                prop::collection::vec(class_def(name.clone(), tags.clone()), 0..4),
                prop::collection::vec(extension(), 0..2),
                Just(name),
                Just(tags),
            )
        })
        .prop_map(|(mut classes, mut extensions, name, tags)| {
            let mut seen = std::collections::HashSet::new();
            classes.retain(|c| seen.insert(c.name.clone()));
            extensions.retain(|e| seen.insert(e.class_name.clone()));
            classes.sort_by(|a, b| a.name.cmp(&b.name));
            extensions.sort_by(|a, b| a.class_name.cmp(&b.class_name));
            Package {
                name,
                tags,
                classes,
                extensions,
                path: None,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn read_of_write_is_identity(pkg in package()) {
        let path = Path::new("gen.st");
        for class in &pkg.classes {
            let text = tonel::write_class_file(class);
            prop_assert!(text.is_ok(), "{:?}", text);
            let Ok(text) = text else { unreachable!() };
            let parsed = tonel::parse_file(path, &text);
            prop_assert!(parsed.is_ok(), "{:?}\n{}", parsed, text);
            let Ok(ParsedFile::Class(back)) = parsed else { unreachable!() };
            let back = strip(vec![Package { classes: vec![back], ..Default::default() }]);
            let want = strip(vec![Package { classes: vec![class.clone()], ..Default::default() }]);
            prop_assert_eq!(back, want, "{}", text);
        }
        for ext in &pkg.extensions {
            let text = tonel::write_extension_file(ext);
            prop_assert!(text.is_ok(), "{:?}", text);
            let Ok(text) = text else { unreachable!() };
            let Ok(ParsedFile::Extension(back)) = tonel::parse_file(path, &text) else {
                return Err(TestCaseError::fail(format!("unreadable: {text}")));
            };
            let back = strip(vec![Package { extensions: vec![back], ..Default::default() }]);
            let want = strip(vec![Package { extensions: vec![ext.clone()], ..Default::default() }]);
            prop_assert_eq!(back, want, "{}", text);
        }
        let text = tonel::write_package_file(&pkg);
        let Ok(ParsedFile::Package(back)) = tonel::parse_file(path, &text) else {
            return Err(TestCaseError::fail(format!("unreadable: {text}")));
        };
        prop_assert_eq!(&back.name, &pkg.name);
        prop_assert_eq!(&back.tags, &pkg.tags);
    }

    #[test]
    fn reader_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = tonel::parse_file(Path::new("r.st"), &text);
    }

    #[test]
    fn reader_never_panics_on_mutated_fixtures(
        file in 0usize..64,
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(
            b"[]()'\"$#{}:>| \n\r\tx\xc3".to_vec())), 1..8),
    ) {
        let files = fixture_files();
        let path = &files[file % files.len()];
        let mut bytes = std::fs::read(path).unwrap();
        for (at, op, byte) in edits {
            let i = at.index(bytes.len() + 1);
            match op {
                0 => bytes.insert(i, byte),
                1 if i < bytes.len() => { bytes.remove(i); }
                _ if i < bytes.len() => bytes[i] = byte,
                _ => {}
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = tonel::parse_file(path, &text) {
            // Errors point inside the file. Lines end in LF, CRLF or a lone CR (old Squeak
            // files), as the reader counts them.
            let lines = text.replace("\r\n", "\n").replace('\r', "\n").lines().count();
            prop_assert!(e.line >= 1 && e.column >= 1);
            prop_assert!(e.line as usize <= lines + 1, "{e} in {text:?}");
        }
    }
}
