; Tags of Python code: definitions and references, by name.
; Adapted from tree-sitter-python's queries/tags.scm (MIT License, Copyright (c) 2016 Max Brunsfeld),
; extended with imports, decorators and type references.

(class_definition
  name: (identifier) @name) @definition.class

(function_definition
  name: (identifier) @name) @definition.function

(module
  (expression_statement
    (assignment
      left: (identifier) @name) @definition.constant))

(call
  function: [
    (identifier) @name
    (attribute
      attribute: (identifier) @name)
  ]) @reference.call

(decorator
  [
    (identifier) @name
    (attribute attribute: (identifier) @name)
  ]) @reference.call

(import_from_statement
  name: [
    (dotted_name (identifier) @name .)
    (aliased_import name: (dotted_name (identifier) @name .))
  ]) @reference.import

(type
  (identifier) @name) @reference.type

(argument_list
  (identifier) @name) @reference.value
