//! Fixture-driven tests of the Tonel reader: every format version, every lexical trap, exact
//! method sources (Pharo's rule), spans, CRLF, and errors with exact positions.

use std::path::{Path, PathBuf};

use hotpatch::model::{ClassDef, ClassKind, MethodDef, Repository, Side};
use hotpatch::tonel::{self, ParsedFile};

fn fixtures(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tonel")
        .join(name)
}

fn read(name: &str) -> Repository {
    let (repo, errors) = tonel::read_repository(&fixtures(name)).unwrap();
    assert!(errors.is_empty(), "unexpected errors: {errors:#?}");
    repo
}

fn class<'a>(repo: &'a Repository, name: &str) -> &'a ClassDef {
    repo.packages
        .iter()
        .flat_map(|p| p.classes.iter())
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no class {name}"))
}

fn method<'a>(c: &'a ClassDef, selector: &str) -> &'a MethodDef {
    c.methods
        .iter()
        .find(|m| m.selector == selector)
        .unwrap_or_else(|| panic!("no method {selector}"))
}

#[test]
fn v3_repository_structure() {
    let repo = read("v3");
    assert_eq!(repo.format.as_deref(), Some("tonel"));
    let names: Vec<_> = repo.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Sample-Core", "Sample-Extensions"]);
    assert_eq!(repo.packages[0].tags, ["Model", "Support"]);
    let classes: Vec<_> = repo.packages[0]
        .classes
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        classes,
        ["SampleBox", "SampleBytes", "SampleNasty", "TSampleGreeting"]
    );

    let box_ = class(&repo, "SampleBox");
    assert_eq!(box_.kind, ClassKind::Class);
    assert_eq!(box_.superclass.as_deref(), Some("Object"));
    assert_eq!(box_.inst_vars, ["value", "label"]);
    assert_eq!(box_.class_vars, ["Default"]);
    assert_eq!(box_.pools, ["SamplePool"]);
    assert_eq!(box_.class_inst_vars, ["instances"]);
    assert_eq!(box_.traits.as_deref(), Some("TSampleGreeting"));
    assert_eq!(
        box_.class_traits.as_deref(),
        Some("TSampleGreeting classTrait")
    );
    assert_eq!(box_.package, "Sample-Core");
    assert_eq!(box_.tag.as_deref(), Some("Model"));
    assert_eq!(box_.category(), "Sample-Core-Model");
    let comment = box_.comment.as_deref().unwrap();
    assert!(comment.starts_with("I am a box"), "{comment:?}");
    assert!(comment.ends_with("'quotes'."), "{comment:?}");
    assert!(comment.contains("quote \"things\""), "{comment:?}");
    assert_eq!(box_.origin.as_ref().unwrap().line, 9);

    assert_eq!(class(&repo, "SampleBytes").layout.as_deref(), Some("bytes"));
    let t = class(&repo, "TSampleGreeting");
    assert_eq!(t.kind, ClassKind::Trait);
    assert_eq!(t.superclass, None);
    assert_eq!(method(t, "defaultGreeting").side, Side::Class);

    let ext = &repo.packages[1].extensions[0];
    assert_eq!(ext.class_name, "Object");
    assert_eq!(ext.methods.len(), 3);
    assert_eq!(ext.methods[0].side, Side::Class);
    assert_eq!(ext.methods[0].protocol, "*Sample-Extensions");
}

#[test]
fn method_sources_follow_pharos_rule() {
    let repo = read("v3");
    let b = class(&repo, "SampleBox");
    // Blank line after `[` is kept; the final newline before `]` is not.
    assert_eq!(
        method(b, "with:").source,
        "with: anObject\n\n\t^ self new value: anObject"
    );
    assert_eq!(method(b, "hash").source, "hash\n\t^ value hash");
    assert_eq!(
        method(b, "at:put:").source,
        "at: index put: anObject\n\t\"Store anObject; index is ignored.\"\n\n\t^ value := anObject"
    );
    assert_eq!(
        method(b, "=").source,
        "= other\n\n\t^ self class = other class and: [ value = other value ]"
    );
    assert_eq!(method(b, "with:").side, Side::Class);
    assert_eq!(method(b, "with:").protocol, "instance creation");

    let n = class(&repo, "SampleNasty");
    assert_eq!(method(n, "empty").source, "empty");
    assert_eq!(
        method(n, "commentOnly").source,
        "commentOnly\n\t\"I only have a comment ] with a bracket\""
    );
    assert_eq!(
        method(n, "characters").source,
        "characters\n\t\"Characters that look like delimiters\"\n\n\t^ { $]. $[. $'. $\". $$. $ . $( . $) }"
    );
    assert_eq!(
        method(n, "literalArrays").source,
        "literalArrays\n\n\t^ #( #] #[ foo: #+ bar:baz: ( nested ] ) $) ')' ) , #[ 1 2 255 ]"
    );
    assert_eq!(
        method(n, "strings").source,
        "strings\n\t\"A comment with ] and \"\" quote\"\n\n\t^ ']' , '[' , 'it''s' , '\"'"
    );
    assert_eq!(
        method(n, "symbols").source,
        "symbols\n\t^ { #foo:bar:. #+. #'a b'. ##foo. #'with]bracket'. #café }"
    );
    // Trailing whitespace before the last line ending survives, as in Pharo.
    assert_eq!(method(n, "trailing").source, "trailing\n\t^ 1 \n\t\n");
    assert_eq!(
        method(n, "blocks").source,
        "blocks\n\n\t^ [:a|[ :b | [:c| a + b + c ] ] ] value: 1"
    );
    assert!(method(n, "unicode").source.contains("größe := 'naïve ∑'."));
    for sel in [",", "->", "==>", "~="] {
        assert!(method(n, sel).source.starts_with(&format!("{sel} other\n")));
    }
    assert_eq!(n.methods.len(), 15);
}

#[test]
fn spans_map_source_lines_to_file_lines() {
    let repo = read("v3");
    let n = class(&repo, "SampleNasty");
    let path = n.origin.as_ref().unwrap().path.clone();
    let text = std::fs::read_to_string(&path).unwrap();
    let file_lines: Vec<&str> = text.lines().collect();
    for m in &n.methods {
        let span = m.span.unwrap();
        let header_line = file_lines[span.header.line as usize - 1];
        assert!(
            header_line.starts_with("SampleNasty >> "),
            "{}: {header_line}",
            m.selector
        );
        assert_eq!(span.header.column, 1);
        assert_eq!(span.body.line, span.header.line);
        assert_eq!(file_lines[span.end.line as usize - 1], "]");
        // Source line N (N >= 2) is file line source_first_body_line + N - 2.
        for (n_1based, line) in m.source.lines().enumerate().skip(1) {
            let file_line = span.source_first_body_line as usize + (n_1based + 1) - 2;
            assert_eq!(
                file_lines[file_line - 1],
                line,
                "{} line {}",
                m.selector,
                n_1based + 1
            );
        }
    }
    let unicode = method(n, "unicode");
    // `[` follows "SampleNasty >> unicode " (23 characters), so the body starts at column 25.
    assert_eq!(unicode.span.unwrap().body.column, 25);
}

#[test]
fn v1_repository_via_project_file() {
    let repo = read("v1");
    assert!(repo.root.ends_with("v1/src"), "{:?}", repo.root);
    assert_eq!(repo.format.as_deref(), Some("tonel"));
    let pkg = &repo.packages[0];
    assert_eq!(pkg.name, "Legacy-Core");
    let thing = class(&repo, "LegacyThing");
    assert_eq!(thing.package, "Legacy-Core");
    assert_eq!(thing.tag.as_deref(), Some("Kernel"));
    assert_eq!(thing.layout.as_deref(), Some("variable"));
    assert_eq!(thing.inst_vars, ["count"]);
    assert_eq!(method(thing, "count").protocol, "accessing");
    assert_eq!(method(thing, "new:").protocol, "instance creation");
    assert_eq!(method(thing, "new:").side, Side::Class);
    assert_eq!(
        method(thing, "visitNode:").source,
        "visitNode: aNode \n\t^aNode acceptVisitor: self"
    );
    let t = class(&repo, "TLegacyVisitor");
    assert_eq!(t.tag, None);
    assert_eq!(t.package, "Legacy-Core");
    assert_eq!(
        method(t, "visitLiteralNode:").source,
        "visitLiteralNode: aLiteralNode"
    );
    assert_eq!(method(t, "visitorName").side, Side::Class);
    assert_eq!(pkg.extensions[0].methods[0].protocol, "*Legacy-Core");
}

#[test]
fn crlf_files_read_like_lf_files() {
    let path = fixtures("v3/Sample-Core/SampleNasty.class.st");
    let lf = std::fs::read_to_string(&path).unwrap();
    let crlf = lf.replace('\n', "\r\n");
    let (ParsedFile::Class(a), ParsedFile::Class(b)) = (
        tonel::parse_file(&path, &lf).unwrap(),
        tonel::parse_file(&path, &crlf).unwrap(),
    ) else {
        panic!("not classes")
    };
    assert_eq!(a.comment, b.comment);
    assert_eq!(a.methods.len(), b.methods.len());
    for (x, y) in a.methods.iter().zip(&b.methods) {
        assert_eq!(x.source, y.source);
        assert_eq!(x.span.unwrap().header, y.span.unwrap().header);
        assert_eq!(x.span.unwrap().end, y.span.unwrap().end);
    }
}

#[test]
fn tabs_spaces_and_odd_spacing_in_headers() {
    let text = "Class {\n    #name : 'A',\n    #superclass : 'Object'\n}\n\n{ #category : 'x' }\nA   class   >>   at:i   put:v [\n    ^ i\n]\n\nA>>+x[^x]\nA >> foo\t[\n]\n";
    let ParsedFile::Class(c) = tonel::parse_file(Path::new("a.st"), text).unwrap() else {
        panic!()
    };
    assert_eq!(c.methods[0].selector, "at:put:");
    assert_eq!(c.methods[0].side, Side::Class);
    // One trailing space dropped before `[`, the others kept, as Pharo's cleanSelector: does.
    assert_eq!(c.methods[0].source, "at:i   put:v\n    ^ i");
    assert_eq!(c.methods[1].selector, "+");
    assert_eq!(c.methods[1].source, "+x^x");
    assert_eq!(c.methods[1].protocol, "");
    assert_eq!(c.methods[2].source, "foo\t");
}

/// (file text, expected line, column, fragment of the message)
const MALFORMED: &[(&str, u32, u32, &str)] = &[
    (
        "Klass { #name : 'A' }",
        1,
        1,
        "expected 'Class {', 'Trait {', 'Extension {' or 'Package {', found 'K'",
    ),
    (
        "Class #name",
        1,
        7,
        "expected '{' opening the Class definition, found '#'",
    ),
    (
        "Class {\n\t#name : 'A'\n\t#superclass : 'B'\n}",
        3,
        2,
        "expected ',' or '}' in a map, found '#'",
    ),
    (
        "Class {\n\t#superclass : 'B'\n}",
        1,
        7,
        "expected #name in the Class definition, found none",
    ),
    (
        "Class { #name : 'A' }\n\nA >> foo [\n\t^ 'unterminated\n]\n",
        4,
        4,
        "expected a closing quote for the string that starts here",
    ),
    (
        "Class { #name : 'A' }\n\nA >> foo [\n\t^ 1\n",
        3,
        10,
        "expected ']' closing the body of A>>foo that starts here, found end of file",
    ),
    (
        "Class { #name : 'A' }\n\nA >> foo [\n\t\"open comment ]\n]\n",
        4,
        2,
        "expected a closing '\"' for the comment that starts here",
    ),
    (
        "Class { #name : 'A' }\n\nA >> foo\n\t^ 1\n]\n",
        4,
        2,
        "expected '[' starting the body of A>>foo, found '^'",
    ),
    (
        "Class { #name : 'A' }\n\nA > foo [ ]\n",
        3,
        3,
        "expected '>>' after the class name, found '>'",
    ),
    (
        "Class { #name : 'A' }\n\nB >> foo [ ]\n",
        3,
        1,
        "expected a method of A (this file defines A), found a method of B",
    ),
    (
        "Class { #name : 'A' }\n\n{ #category : 'x' \nA >> foo [ ]\n",
        4,
        1,
        "expected ',' or '}' in a map, found 'A'",
    ),
    (
        "Class { #name : 'A' }\n\nA >> at: [ ]\n",
        3,
        10,
        "expected an argument name in A>>at:, found '['",
    ),
    (
        "Class { #name : 'A' }\n\nA >> foo [ #( 1 2 ]\n",
        3,
        13,
        "expected ')' closing the literal array",
    ),
    (
        "\"unterminated class comment\nClass { #name : 'A' }\n",
        1,
        1,
        "expected a closing '\"' for the comment",
    ),
    (
        "Class { #name : 'A' }\n]\n",
        2,
        1,
        "expected a method definition",
    ),
    (
        "Class { #name : 'Ä', #superclass : 'Object' }\n\nÄ >> naïve ]\n",
        3,
        12,
        "expected '[' starting the body of Ä>>naïve, found ']'",
    ),
    (
        "Package { #name : 'P' } extra",
        1,
        25,
        "expected end of file after the package definition, found 'e'",
    ),
];

#[test]
fn malformed_files_report_exact_positions() {
    for (text, line, column, fragment) in MALFORMED {
        let err = tonel::parse_file(Path::new("bad.st"), text)
            .expect_err(&format!("should fail: {text:?}"));
        assert_eq!(
            (err.line, err.column),
            (*line, *column),
            "position for {text:?}: {err}"
        );
        assert!(
            err.message.contains(fragment),
            "message for {text:?}: {err}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("bad.st:{line}:{column}: "))
        );
    }
}

#[test]
fn every_broken_file_of_a_repository_is_reported() {
    let dir = std::env::temp_dir().join(format!("hotpatch-tonel-broken-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pkg = dir.join("Broken");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::create_dir_all(dir.join("NoPackageSt")).unwrap();
    std::fs::write(pkg.join("package.st"), "Package { #name : 'Broken' }\n").unwrap();
    std::fs::write(
        pkg.join("A.class.st"),
        "Class { #name : 'A' }\nA >> x [ 'oops ]\n",
    )
    .unwrap();
    std::fs::write(
        pkg.join("B.class.st"),
        "Class { #name : 'B' }\nB >> x [ ^ 1 ]\n",
    )
    .unwrap();
    std::fs::write(pkg.join("C.class.st"), "Class { #name 'C' }\n").unwrap();
    std::fs::write(
        pkg.join("D.class.st"),
        b"Class { #name : 'D' }\nD >> x [ ^ '\xff' ]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("NoPackageSt/E.class.st"),
        "Class { #name : 'E' }\n",
    )
    .unwrap();
    // A second definition of B, in the other package.
    std::fs::write(
        dir.join("NoPackageSt/B.class.st"),
        "Class { #name : 'B' }\n",
    )
    .unwrap();

    let (repo, errors) = tonel::read_repository(&dir).unwrap();
    let shown: Vec<String> = errors
        .iter()
        .map(|e| {
            format!(
                "{}:{}:{}",
                e.path.strip_prefix(&dir).unwrap().display(),
                e.line,
                e.column
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            "Broken/A.class.st:2:10",
            "Broken/C.class.st:1:15",
            "Broken/D.class.st:2:13",
        ],
        "{errors:#?}"
    );
    assert!(errors[2].message.contains("UTF-8"));
    // Good files are still read; a folder without package.st is the package named after it.
    assert_eq!(class(&repo, "B").methods.len(), 1);
    let no_st = repo
        .packages
        .iter()
        .find(|p| p.name == "NoPackageSt")
        .unwrap();
    assert_eq!(no_st.classes.len(), 2);
    assert_eq!(no_st.classes[1].name, "E");
    assert_eq!(no_st.classes[1].category(), "NoPackageSt");
    // B is defined in both packages: not a read error, but reported for packages used together.
    let clash = tonel::duplicate_definitions(&repo.packages);
    assert_eq!(clash.len(), 1, "{clash:#?}");
    assert!(clash[0].message.contains("second one"));
    assert!(clash[0].path.ends_with("NoPackageSt/B.class.st"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn single_package_folder_and_missing_root() {
    let repo = read("v3/Sample-Core");
    assert_eq!(repo.packages.len(), 1);
    assert_eq!(repo.packages[0].name, "Sample-Core");
    assert!(tonel::read_repository(Path::new("/nonexistent/hotpatch")).is_err());
}
