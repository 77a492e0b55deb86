//! The cases Pharo's own Tonel test suite checks (`TonelParserTest`, `TonelReaderTest`,
//! `TonelSourceScannerTest`, `TonelWriterTest`, `TonelWriterV3Test` in pharo-vcs/tonel), each
//! that applies to a file-based reader and writer, written again here with our own fixtures;
//! plus what real repositories (Pharo's `src/`, Seaside, Iceberg) showed: dialect variants,
//! scripts beside packages, folders without `package.st`.

use std::path::{Path, PathBuf};

use hotpatch::model::{ClassDef, ClassKind, Extension, MethodDef, Side};
use hotpatch::tonel::{self, ParsedFile};

fn parse(text: &str) -> ParsedFile {
    tonel::parse_file(Path::new("case.st"), text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn class(text: &str) -> ClassDef {
    match parse(text) {
        ParsedFile::Class(c) => c,
        other => panic!("not a class: {other:?}"),
    }
}

/// One method in a class file of `Probe`; returns (selector, side, protocol, source).
fn one_method(method_text: &str) -> (String, Side, String, String) {
    let c = class(&format!("Class {{ #name : 'Probe' }}\n{method_text}\n"));
    assert_eq!(c.methods.len(), 1, "{method_text}");
    let m = &c.methods[0];
    (
        m.selector.clone(),
        m.side,
        m.protocol.clone(),
        m.source.clone(),
    )
}

fn body(body_text: &str) -> String {
    let (_, _, _, source) = one_method(&format!("Probe >> probe {body_text}"));
    source.strip_prefix("probe").unwrap().to_string()
}

// ---- TonelParserTest: selectors ------------------------------------------------------------

#[test]
fn selectors_of_every_shape_and_spacing() {
    for (decl, selector) in [
        ("Probe >> simple [ ]", "simple"),
        ("Probe >> - amount [ ]", "-"),
        ("Probe >> <=> other [ ]", "<=>"),
        ("Probe >> one: a two: b three: c [ ]", "one:two:three:"),
        ("Probe >> one:\ta two:b three: c [ ]", "one:two:three:"),
        ("Probe >> one: a\ntwo: b\nthree: c [ ]", "one:two:three:"),
        ("Probe>>simple [ ]", "simple"),
    ] {
        assert_eq!(one_method(decl).0, selector, "{decl}");
    }
}

#[test]
fn selectors_with_comments_in_the_declaration() {
    for (decl, selector, source) in [
        ("Probe >> simple \"note\" [ ]", "simple", "simple \"note\""),
        ("Probe >> - \"note\" amount [ ]", "-", "- \"note\" amount"),
        (
            "Probe >> <=> \"note\" other [ ]",
            "<=>",
            "<=> \"note\" other",
        ),
        (
            "Probe >> one: a \"note\"  two: b  \"note\" three: c \"note\" [ ]",
            "one:two:three:",
            "one: a \"note\"  two: b  \"note\" three: c \"note\"",
        ),
        (
            "Probe >> one: \ta \"note\" two:b three: c [ ]",
            "one:two:three:",
            "one: \ta \"note\" two:b three: c",
        ),
        (
            "Probe >> one: a \"note\"\ntwo: b \"note\"\nthree: c [ ]",
            "one:two:three:",
            "one: a \"note\"\ntwo: b \"note\"\nthree: c",
        ),
        // Comments holding brackets, quotes and things that look like keywords.
        (
            "Probe >> at: i \"the [slot] \"\"index\"\" put: x\" put: v [ ]",
            "at:put:",
            "at: i \"the [slot] \"\"index\"\" put: x\" put: v",
        ),
        ("Probe >> \"lead\" simple [ ]", "simple", "\"lead\" simple"),
    ] {
        let (sel, _, _, src) = one_method(decl);
        assert_eq!(sel, selector, "{decl}");
        // The comments stay in the source; the one space before `[` goes (and the body ` `
        // is cleaned away).
        assert_eq!(src, source, "{decl}");
    }
}

#[test]
fn a_whole_file_of_methods_with_comments_in_declarations_reads() {
    let c = class(
        "Class { #name : 'Probe' }\n\
         \n{ #category : 'a' }\nProbe >> at: index \"the slot\" put: anObject [\n\t^ anObject\n]\n\
         \n{ #category : 'b' }\nProbe >> size \"cached\" [\n\t^ 0\n]\n\
         \n{ #category : 'c' }\nProbe >> key: k\n\t\"and\"\n\tvalue: v [\n\t^ v\n]\n",
    );
    let sels: Vec<_> = c.methods.iter().map(|m| m.selector.as_str()).collect();
    assert_eq!(sels, ["at:put:", "size", "key:value:"]);
    assert_eq!(c.methods[2].source, "key: k\n\t\"and\"\n\tvalue: v\n\t^ v");
}

#[test]
fn method_headers_name_class_and_side() {
    for (text, side) in [
        ("Probe >> sample [ ]", Side::Instance),
        ("Probe class >> sample [ ]", Side::Class),
        ("Probe classSide >> sample [ ]", Side::Class),
        ("Probe  class>>sample [ ]", Side::Class),
    ] {
        assert_eq!(one_method(text).1, side, "{text}");
    }
}

// ---- TonelParserTest: metadata and type definitions ---------------------------------------

#[test]
fn metadata_maps_with_and_without_a_space_before_the_colon() {
    for meta in [
        "{ #category : 'probing' }",
        "{ #category: 'probing' }",
        "{#category:'probing'}",
        "{ #category : #probing }",
        "{ #category: #probing, #other: [ #a, #b ], #nested: { #n: 42 } }",
        "{\n\t#category: 'probing'\n}",
    ] {
        let (_, _, protocol, _) = one_method(&format!("{meta}\nProbe >> probe [ ]"));
        assert_eq!(protocol, "probing", "{meta}");
    }
    let (_, _, protocol, _) = one_method("Probe >> probe [ ]");
    assert_eq!(protocol, "", "no metadata: no protocol");
}

#[test]
fn type_definitions_with_package_tag_or_category() {
    let c = class(
        "\"\nmy note\n\"\nClass {\n\t#name: 'Gizmo',\n\t#superclass: 'Base',\n\t#package: 'Shop'\n}",
    );
    assert_eq!(
        (
            c.name.as_str(),
            c.superclass.as_deref(),
            c.package.as_str(),
            c.tag.as_deref()
        ),
        ("Gizmo", Some("Base"), "Shop", None)
    );
    assert_eq!(c.comment.as_deref(), Some("my note"));
    let c = class(
        "Class {\n\t#name: 'Gizmo',\n\t#superclass: 'Base',\n\t#package: 'Shop',\n\t#tag: 'Parts'\n}",
    );
    assert_eq!(
        (c.package.as_str(), c.tag.as_deref()),
        ("Shop", Some("Parts"))
    );
    // Only a category: the whole category until the repository reader splits it by folder.
    let c = class("Class {\n\t#name: 'Gizmo',\n\t#superclass: 'Base',\n\t#category: 'Shop'\n}");
    assert_eq!((c.package.as_str(), c.tag.as_deref()), ("Shop", None));
    assert_eq!(c.kind, ClassKind::Class);
    match parse("Trait { #name: 'TGizmo', #package: 'Shop' }") {
        ParsedFile::Class(t) => assert_eq!(t.kind, ClassKind::Trait),
        other => panic!("{other:?}"),
    }
    match parse("Extension { #name: 'Base' }") {
        ParsedFile::Extension(e) => assert_eq!(e.class_name, "Base"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn class_comments_unescape_doubled_quotes() {
    let c = class("\"\n\"\"quoted\"\" words and \"\"more\"\"\n\"\nClass { #name : 'Gizmo' }\n");
    assert_eq!(c.comment.as_deref(), Some("\"quoted\" words and \"more\""));
}

#[test]
fn method_definition_lists_with_and_without_metadata() {
    let c = class(
        "Class { #name : 'Probe' }\n\
         Probe class >> new [\n\t^ self basicNew initialize\n]\n\n\
         { #category: 'accessing' }\nProbe >> name [\n\t^ self printString\n]\n\n\
         { #category: 'printing' }\nProbe >> printOn: aStream [\n\t\"Say what I am.\"\n\n\t| title |\n\
         \ttitle := self class name.\n\taStream\n\t\tnextPutAll: (title first isVowel ifTrue: ['an '] ifFalse: ['a ']);\n\
         \t\tnextPutAll: title\n\n]",
    );
    assert_eq!(c.methods.len(), 3);
    assert_eq!(c.methods[0].side, Side::Class);
    assert_eq!(c.methods[0].protocol, "");
    assert_eq!(c.methods[1].source, "name\n\t^ self printString");
    // One line ending before `]` is dropped, the blank line before it stays.
    assert!(c.methods[2].source.ends_with("nextPutAll: title\n"));
}

// ---- TonelParserTest / TonelSourceScannerTest: method bodies --------------------------------

#[test]
fn bodies_are_cut_by_smalltalk_lexical_rules() {
    for (text, want) in [
        ("[ whatever is inside ]", " whatever is inside"),
        (
            "[\nfirst\n\t[nested... [deeper]\nout] still\n]",
            "\nfirst\n\t[nested... [deeper]\nout] still",
        ),
        (
            "[ strings \"'\", '\"', \"[\", ']' ]",
            " strings \"'\", '\"', \"[\", ']'",
        ),
        ("[^'''']", "^''''"),
        (
            "[\n\tself\n\t\tat: 1 put: 'one';\n\t\tat: 2 put: 'two';\n\t\tyourself\n]",
            "\n\tself\n\t\tat: 1 put: 'one';\n\t\tat: 2 put: 'two';\n\t\tyourself",
        ),
        // `$` character literals, also of `$`, quotes and brackets.
        ("[ $$ ]", " $$"),
        ("[$$ ]", "$$"),
        ("[ $$]", " $$"),
        ("[$$]", "$$"),
        ("[^ #($$)]", "^ #($$)"),
        ("[^ flag ifTrue: [^$$]]", "^ flag ifTrue: [^$$]"),
        ("[^$$\"a ] in a comment\"]", "^$$\"a ] in a comment\""),
        ("[ ^ $] ]", " ^ $]"),
        ("[ ^ $[ ]", " ^ $["),
        ("[ ^ $' ]", " ^ $'"),
        ("[ ^ $\" ]", " ^ $\""),
        // Brackets and braces inside literal arrays: only parentheses nest there.
        (
            "[ \"a literal array\" ^ #( [ )]",
            " \"a literal array\" ^ #( [ )",
        ),
        (
            "[^#( \"prefix ) with $, not ] or }\" ')]}' $) ] } )]",
            "^#( \"prefix ) with $, not ] or }\" ')]}' $) ] } )",
        ),
        (
            "[^#( $$'a string)('$$\"a ] comment\"$$(nested ] array))]",
            "^#( $$'a string)('$$\"a ] comment\"$$(nested ] array))",
        ),
        ("[ ^ #() ]", " ^ #()"),
        ("[ ^ #((p q) r) ]", " ^ #((p q) r)"),
        ("[ ^ #((p (q)) r) ]", " ^ #((p (q)) r)"),
        ("[ ^ #(p (q r)) ]", " ^ #(p (q r))"),
        ("[ ^ #[1 2 3] ]", " ^ #[1 2 3]"),
        ("[ ^ '-.*$' ]", " ^ '-.*$'"),
        // Comments: empty, multi-line, with doubled quotes inside and at the end.
        ("[ \"\" ]", " \"\""),
        ("[ \"two\nlines\" ]", " \"two\nlines\""),
        ("[ \"with \"\" inside\" ]", " \"with \"\" inside\""),
        ("[ \"ends with \"\"\" ]", " \"ends with \"\"\""),
    ] {
        assert_eq!(body(text), want, "{text}");
    }
}

// ---- TonelReaderTest: packages, tags, categories, hidden files -----------------------------

struct TempRepo(PathBuf);

impl TempRepo {
    fn new(tag: &str) -> TempRepo {
        let dir =
            std::env::temp_dir().join(format!("hotpatch-pharo-cases-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempRepo(dir)
    }

    fn file(&self, path: &str, text: &str) -> &TempRepo {
        let p = self.0.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }

    fn read(&self) -> (hotpatch::model::Repository, Vec<tonel::TonelError>) {
        tonel::read_repository(&self.0).unwrap()
    }
}

impl Drop for TempRepo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn legacy_class(category: &str) -> String {
    format!(
        "\"\nA note\n\"\nClass {{\n\t#name : #Widget,\n\t#superclass : #Base,\n\t#instVars : [\n\t\t'x'\n\t],\n\
         \t#classVars : [\n\t\t'Y'\n\t],\n\t#category : #'{category}'\n}}\n"
    )
}

#[test]
fn legacy_categories_become_package_and_tag_as_pharo_reads_them() {
    for (category, package, tag) in [
        ("Shop-Widgets-Base", "Shop-Widgets", Some("Base")),
        ("Shop-Widgets", "Shop-Widgets", None),
        // Differs from the folder in case only: the category's spelling is kept.
        ("Shop-widgets", "Shop-widgets", None),
        ("shop-widgets-Base", "Shop-Widgets", Some("Base")),
    ] {
        let repo = TempRepo::new("legacy");
        repo.file(
            "Shop-Widgets/package.st",
            "Package { #name : #'Shop-Widgets' }\n",
        )
        .file("Shop-Widgets/Widget.class.st", &legacy_class(category));
        let (r, errors) = repo.read();
        assert!(errors.is_empty(), "{errors:#?}");
        let c = &r.packages[0].classes[0];
        assert_eq!(
            (c.package.as_str(), c.tag.as_deref()),
            (package, tag),
            "{category}"
        );
        assert_eq!(c.inst_vars, ["x"]);
        assert_eq!(c.class_vars, ["Y"]);
        assert_eq!(c.comment.as_deref(), Some("A note"));
    }
}

#[test]
fn a_category_naming_another_package_is_refused_as_pharo_refuses_it() {
    let repo = TempRepo::new("mismatch");
    repo.file("Shop/package.st", "Package { #name : #Shop }\n")
        .file("Shop/Widget.class.st", &legacy_class("Garden-Tools"));
    let (_, errors) = repo.read();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].path.ends_with("Shop/Widget.class.st"));
    assert!(
        errors[0].message.contains("'Garden-Tools'") && errors[0].message.contains("'Shop'"),
        "{}",
        errors[0].message
    );
}

#[test]
fn hidden_files_and_folders_are_ignored() {
    let repo = TempRepo::new("hidden");
    repo.file("Shop/package.st", "Package { #name : 'Shop' }\n")
        .file(
            "Shop/Widget.class.st",
            "Class { #name : 'Widget', #package : 'Shop' }\n",
        )
        .file(
            "Shop/._Widget.class.st",
            "\u{0}\u{5}\u{16}\u{7}Mac OS X resource fork",
        )
        .file("Shop/.Widget.class.st", "not Tonel at all")
        .file(".git/config.st", "not Tonel either");
    let (r, errors) = repo.read();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(r.packages.len(), 1);
    assert_eq!(r.packages[0].classes.len(), 1);
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
}

#[test]
fn a_folder_without_package_st_is_the_package_named_after_it() {
    let repo = TempRepo::new("no-package-st");
    repo.file(
        "Shop-Core/Widget.class.st",
        "Class { #name : 'Widget', #category : 'Shop-Core-Parts' }\n",
    )
    .file(
        "Shop-Core/Base.extension.st",
        "Extension { #name : 'Base' }\nBase >> shop [ ]\n",
    );
    let (r, errors) = repo.read();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(r.packages.len(), 1);
    let p = &r.packages[0];
    assert_eq!(p.name, "Shop-Core");
    assert_eq!(p.classes[0].category(), "Shop-Core-Parts");
    assert_eq!(p.classes[0].tag.as_deref(), Some("Parts"));
    assert_eq!(p.extensions[0].methods[0].selector, "shop");
    // The package folder itself, given directly, reads the same.
    let (single, errors) = tonel::read_repository(&repo.0.join("Shop-Core")).unwrap();
    assert!(errors.is_empty());
    assert_eq!(single.packages[0].name, "Shop-Core");
}

#[test]
fn an_empty_src_directory_makes_the_root_the_package_directory_and_scripts_are_skipped() {
    let repo = TempRepo::new("src-empty");
    repo.file(".project", "{\n\t'srcDirectory' : ''\n}")
        .file("Shop/package.st", "Package { #name : 'Shop' }\n")
        .file(
            "Shop/Widget.class.st",
            "Class { #name : 'Widget', #package : 'Shop' }\n",
        )
        .file("scripts/preLoading.st", "Smalltalk at: #Flag put: true.\n")
        .file("docs/README.md", "# not code\n");
    let (r, errors) = repo.read();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(r.packages.len(), 1);
    assert_eq!(r.packages[0].name, "Shop");
    let skipped: Vec<_> = r
        .skipped
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(skipped, ["docs", "scripts"]);
}

#[test]
fn dialect_variants_of_one_class_read_and_clash_only_when_used_together() {
    let repo = TempRepo::new("variants");
    for pkg in ["Shop-Core", "Shop-Pharo-Core", "Shop-Squeak-Core"] {
        repo.file(
            &format!("{pkg}/Widget.class.st"),
            &format!("Class {{ #name : 'Widget', #package : '{pkg}' }}\n"),
        );
    }
    repo.file(
        "Shop-Core/Base.class.st",
        "Class { #name : 'Base', #package : 'Shop-Core' }\n",
    );
    let (r, errors) = repo.read();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(r.packages.len(), 3);
    // All three together: two second definitions.
    assert_eq!(tonel::duplicate_definitions(&r.packages).len(), 2);
    // One variant with the core package: still a clash; one package alone: none.
    let pharo: Vec<_> = r
        .packages
        .iter()
        .filter(|p| p.name != "Shop-Squeak-Core")
        .cloned()
        .collect();
    assert_eq!(tonel::duplicate_definitions(&pharo).len(), 1);
    assert!(tonel::duplicate_definitions(&r.packages[1..2]).is_empty());
}

// ---- TonelWriterTest / TonelWriterV3Test ---------------------------------------------------

fn m(class_name: &str, side: Side, selector: &str, protocol: &str, source: &str) -> MethodDef {
    MethodDef {
        class_name: class_name.into(),
        side,
        selector: selector.into(),
        protocol: protocol.into(),
        source: source.into(),
        span: None,
    }
}

fn written_method(method: MethodDef) -> String {
    let class = ClassDef {
        name: method.class_name.clone(),
        superclass: Some("Object".into()),
        package: "Kit".into(),
        methods: vec![method],
        ..Default::default()
    };
    let text = tonel::write_class_file(&class).unwrap();
    let start = text.find("}\n").unwrap() + 2;
    text[start..].to_string()
}

#[test]
fn the_writer_splits_declaration_from_body_as_pharo_does() {
    for (selector, source, written) in [
        ("size", "size\n\t^ self", "Probe >> size [\n\t^ self\n]\n"),
        (
            "label:",
            "label: aString\n\tlabel := aString",
            "Probe >> label: aString [\n\tlabel := aString\n]\n",
        ),
        (
            "from:to:by:do:",
            "from: a\n\tto: b\n\tby: c\n\tdo: d\n\n\t^ a + b + c + d",
            "Probe >> from: a\n\tto: b\n\tby: c\n\tdo: d [\n\n\t^ a + b + c + d\n]\n",
        ),
        (
            "label:",
            "label: aString label := aString",
            "Probe >> label: aString [ label := aString\n]\n",
        ),
        (
            "x:y:z:",
            "x: y y: z z: w ^ 42",
            "Probe >> x: y y: z z: w [ ^ 42\n]\n",
        ),
        ("+", "+ a.\n\t^ 42", "Probe >> + a [.\n\t^ 42\n]\n"),
        (
            "min:max:",
            "min: a max: b.\n\t^ 42",
            "Probe >> min: a max: b [.\n\t^ 42\n]\n",
        ),
        (
            "selector",
            "selector.\n\t^ 42",
            "Probe >> selector [.\n\t^ 42\n]\n",
        ),
        (
            "=",
            "= other\n\t^ self == other",
            "Probe >> = other [\n\t^ self == other\n]\n",
        ),
    ] {
        let text = written_method(m("Probe", Side::Instance, selector, "p", source));
        assert_eq!(
            text,
            format!("\n{{ #category : 'p' }}\n{written}"),
            "{selector}"
        );
        // And it reads back as the same method.
        let (sel, _, _, src) = one_method(text.trim_start());
        assert_eq!((sel.as_str(), src.as_str()), (selector, source));
    }
}

#[test]
fn a_source_that_does_not_match_its_selector_is_refused() {
    let class = ClassDef {
        name: "Probe".into(),
        package: "Kit".into(),
        methods: vec![m(
            "Probe",
            Side::Instance,
            "label",
            "p",
            "labelled: aString\n\t^ self labelled: aString in: nil",
        )],
        ..Default::default()
    };
    let e = tonel::write_class_file(&class).unwrap_err();
    assert_eq!(e.selector, "label");
    assert!(e.to_string().contains("#label"), "{e}");
}

#[test]
fn class_side_methods_first_then_instance_side_each_by_selector() {
    let class = ClassDef {
        name: "Kiosk".into(),
        superclass: Some("Stand".into()),
        package: "Fair".into(),
        tag: Some("Base".into()),
        inst_vars: vec!["stock".into()],
        class_vars: vec!["Count".into(), "Order".into()],
        comment: Some("A kiosk to check the writer".into()),
        methods: vec![
            m("Kiosk", Side::Instance, "two", "numbers", "two\n\n\t^ 2"),
            m(
                "Kiosk",
                Side::Class,
                "initialize",
                "class initialization",
                "initialize\n\n\tCount := 0",
            ),
            m("Kiosk", Side::Instance, "one", "numbers", "one\n\n\t^ 1"),
            m(
                "Kiosk",
                Side::Class,
                "count",
                "accessing",
                "count\n\n\t^ Count",
            ),
            m(
                "Kiosk",
                Side::Instance,
                "quoted",
                "don't touch",
                "quoted\n\t\"in a protocol with an apostrophe\"",
            ),
        ],
        ..Default::default()
    };
    assert_eq!(
        tonel::write_class_file(&class).unwrap(),
        "\"\nA kiosk to check the writer\n\"\nClass {\n\t#name : 'Kiosk',\n\t#superclass : 'Stand',\n\
         \t#instVars : [\n\t\t'stock'\n\t],\n\t#classVars : [\n\t\t'Count',\n\t\t'Order'\n\t],\n\
         \t#category : 'Fair-Base',\n\t#package : 'Fair',\n\t#tag : 'Base'\n}\n\
         \n{ #category : 'accessing' }\nKiosk class >> count [\n\n\t^ Count\n]\n\
         \n{ #category : 'class initialization' }\nKiosk class >> initialize [\n\n\tCount := 0\n]\n\
         \n{ #category : 'numbers' }\nKiosk >> one [\n\n\t^ 1\n]\n\
         \n{ #category : 'don\\'t touch' }\nKiosk >> quoted [\n\t\"in a protocol with an apostrophe\"\n]\n\
         \n{ #category : 'numbers' }\nKiosk >> two [\n\n\t^ 2\n]\n"
    );
}

#[test]
fn class_definitions_with_trait_compositions() {
    let class = ClassDef {
        name: "Kiosk".into(),
        superclass: Some("Object".into()),
        traits: Some("TOne + TTwo".into()),
        class_traits: Some("(TOne classTrait + TTwo classTrait) - {#m1}".into()),
        package: "Fair".into(),
        ..Default::default()
    };
    assert_eq!(
        tonel::write_class_file(&class).unwrap(),
        "Class {\n\t#name : 'Kiosk',\n\t#superclass : 'Object',\n\t#traits : 'TOne + TTwo',\n\
         \t#classTraits : '(TOne classTrait + TTwo classTrait) - {#m1}',\n\t#category : 'Fair',\n\
         \t#package : 'Fair'\n}\n"
    );
}

#[test]
fn extension_files_as_pharo_writes_them() {
    let ext = Extension {
        class_name: "Stand".into(),
        methods: vec![
            m(
                "Stand",
                Side::Instance,
                "kioskExtra",
                "*Fair",
                "kioskExtra\n\t\"an extension\"",
            ),
            m(
                "Stand",
                Side::Class,
                "forFair",
                "*Fair",
                "forFair\n\t^ self new",
            ),
        ],
        origin: None,
    };
    assert_eq!(
        tonel::write_extension_file(&ext).unwrap(),
        "Extension { #name : 'Stand' }\n\
         \n{ #category : '*Fair' }\nStand class >> forFair [\n\t^ self new\n]\n\
         \n{ #category : '*Fair' }\nStand >> kioskExtra [\n\t\"an extension\"\n]\n"
    );
}
