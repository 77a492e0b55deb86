//! What a tree of Tonel sources defines: classes and traits with their superclass and trait
//! compositions, the selectors each side of each class or trait implements (its own file plus
//! every extension), and the facts ([`MethodFacts`]) of every method, parsed in parallel.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use hotpatch::model::{ClassKind, MethodDef, Repository, Side};

use crate::sends::{self, MethodFacts};

/// One class or trait as far as the check needs it.
#[derive(Debug, Clone, Default)]
pub struct ClassInfo {
    /// `None` for a root class and for traits.
    pub superclass: Option<String>,
    /// A trait, not a class.
    pub is_trait: bool,
    /// Traits used on the instance side.
    pub traits: Vec<String>,
    /// Traits used on the class side (`TFoo classTrait`).
    pub class_traits: Vec<String>,
    /// Names the class binds for its methods (instance, class-instance and class variables, pools).
    pub bound: HashSet<String>,
}

/// Where a method is: `Foo>>bar` or `Foo class>>bar`.
pub fn method_label(m: &MethodDef) -> String {
    match m.side {
        Side::Instance => format!("{}>>{}", m.class_name, m.selector),
        Side::Class => format!("{} class>>{}", m.class_name, m.selector),
    }
}

/// One parsed method with where it came from.
#[derive(Debug, Clone)]
pub struct ParsedMethod {
    /// `Foo>>bar`.
    pub label: String,
    /// The package that holds the method (the class's package, or the extending package).
    pub package: String,
    /// What the method sends and names.
    pub facts: MethodFacts,
}

/// The classes, selectors and method facts of one Tonel tree.
#[derive(Debug, Default)]
pub struct Index {
    /// Classes and traits by name.
    pub classes: HashMap<String, ClassInfo>,
    /// Selectors implemented per (class or trait, side): own methods and extensions.
    pub selectors: HashMap<(String, Side), HashSet<String>>,
    /// Every selector implemented anywhere, with how many implementors.
    pub implementors: HashMap<String, usize>,
    /// Every method that parsed.
    pub methods: Vec<ParsedMethod>,
    /// Methods the send parser could not follow: `Foo>>bar: message`.
    pub unparsed: Vec<String>,
}

impl Index {
    /// Indexes the packages of `repo` for which `keep` is true; parses every method's source.
    pub fn build(repo: &Repository, keep: impl Fn(&str) -> bool) -> Index {
        let mut index = Index::default();
        let mut work: Vec<(&MethodDef, &str)> = Vec::new();
        for package in repo.packages.iter().filter(|p| keep(&p.name)) {
            for class in &package.classes {
                let mut bound: HashSet<String> = HashSet::new();
                bound.extend(class.inst_vars.iter().cloned());
                bound.extend(class.class_vars.iter().cloned());
                bound.extend(class.class_inst_vars.iter().cloned());
                bound.extend(class.pools.iter().cloned());
                index.classes.insert(
                    class.name.clone(),
                    ClassInfo {
                        superclass: class.superclass.clone(),
                        is_trait: class.kind == ClassKind::Trait,
                        traits: trait_names(class.traits.as_deref()),
                        class_traits: trait_names(class.class_traits.as_deref()),
                        bound,
                    },
                );
                for m in &class.methods {
                    work.push((m, &package.name));
                }
            }
            for ext in &package.extensions {
                for m in &ext.methods {
                    work.push((m, &package.name));
                }
            }
        }
        for (m, _) in &work {
            index
                .selectors
                .entry((m.class_name.clone(), m.side))
                .or_default()
                .insert(m.selector.clone());
            *index.implementors.entry(m.selector.clone()).or_default() += 1;
        }
        let empty = HashSet::new();
        let bound: HashMap<String, HashSet<String>> = index
            .classes
            .keys()
            .map(|name| (name.clone(), index.bound_with_superclasses(name)))
            .collect();
        let parsed: Vec<Result<ParsedMethod, String>> = work
            .par_iter()
            .map(|(m, package)| {
                let bound = bound.get(&m.class_name).unwrap_or(&empty);
                let label = method_label(m);
                match sends::method_facts(&m.source, bound) {
                    Ok(facts) => Ok(ParsedMethod {
                        label,
                        package: package.to_string(),
                        facts,
                    }),
                    Err(e) => Err(format!("{label}: {e}")),
                }
            })
            .collect();
        for p in parsed {
            match p {
                Ok(m) => index.methods.push(m),
                Err(e) => index.unparsed.push(e),
            }
        }
        index.unparsed.sort();
        index
    }

    /// Names bound by `class_name` and every superclass this tree defines (class variables are
    /// inherited).
    pub fn bound_with_superclasses(&self, class_name: &str) -> HashSet<String> {
        let mut bound = HashSet::new();
        for name in self.superclass_chain(class_name) {
            if let Some(c) = self.classes.get(&name) {
                bound.extend(c.bound.iter().cloned());
            }
        }
        bound
    }

    /// `class_name` and its superclasses, nearest first, as far as this tree defines them.
    pub fn superclass_chain(&self, class_name: &str) -> Vec<String> {
        let mut chain = Vec::new();
        let mut current = Some(class_name.to_string());
        while let Some(name) = current {
            if chain.contains(&name) {
                break;
            }
            current = self.classes.get(&name).and_then(|c| c.superclass.clone());
            chain.push(name);
        }
        chain
    }

    /// Whether an instance of `class_name` (`Side::Instance`) or the class itself
    /// (`Side::Class`, the metaclass chain ending in `Class`) understands `selector`, counting
    /// inherited methods and methods from used traits.
    pub fn understands(&self, class_name: &str, side: Side, selector: &str) -> bool {
        for name in self.superclass_chain(class_name) {
            if self.defines(&name, side, selector) {
                return true;
            }
        }
        // A class object is an instance of its metaclass, whose chain ends in Class.
        side == Side::Class && self.understands("Class", Side::Instance, selector)
    }

    fn defines(&self, name: &str, side: Side, selector: &str) -> bool {
        if self
            .selectors
            .get(&(name.to_string(), side))
            .is_some_and(|s| s.contains(selector))
        {
            return true;
        }
        let Some(info) = self.classes.get(name) else {
            return false;
        };
        let traits = match side {
            Side::Instance => &info.traits,
            Side::Class => &info.class_traits,
        };
        traits
            .iter()
            .filter(|t| t.as_str() != name)
            .any(|t| self.defines(t, side, selector))
    }

    /// The classes and traits that implement `selector` (`Foo`, `Foo class`), sorted.
    pub fn implementors_of(&self, selector: &str) -> Vec<String> {
        let mut who: Vec<String> = self
            .selectors
            .iter()
            .filter(|(_, selectors)| selectors.contains(selector))
            .map(|((name, side), _)| match side {
                Side::Instance => name.clone(),
                Side::Class => format!("{name} class"),
            })
            .collect();
        who.sort();
        who
    }

    /// Whether `name` is a class or trait in this tree.
    pub fn has_class(&self, name: &str) -> bool {
        self.classes.contains_key(name)
    }
}

/// The trait names in a trait composition (`TFoo + TBar - {#baz}`, `TFoo classTrait`): the
/// capitalised words outside braces.
fn trait_names(composition: Option<&str>) -> Vec<String> {
    let Some(text) = composition else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let mut depth = 0usize;
    let mut word = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 && (c.is_alphanumeric() || c == '_') {
            word.push(c);
        } else {
            if word.starts_with(|c: char| c.is_uppercase()) && !names.contains(&word) {
                names.push(word.clone());
            }
            word.clear();
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trait_compositions() {
        assert_eq!(
            trait_names(Some("TFoo + TBar - {#baz. #Qux}")),
            vec!["TFoo", "TBar"]
        );
        assert_eq!(trait_names(Some("TFoo classTrait")), vec!["TFoo"]);
        assert_eq!(trait_names(Some("TFoo @ {#a->#b}")), vec!["TFoo"]);
        assert!(trait_names(None).is_empty());
    }
}
