; Tags of Java code: definitions and references, by name.
; Adapted from tree-sitter-java's queries/tags.scm (MIT License, Copyright (c) 2017 Ayman Nadeem),
; extended with enums, records, fields and type references.

(class_declaration
  name: (identifier) @name) @definition.class

(interface_declaration
  name: (identifier) @name) @definition.interface

(enum_declaration
  name: (identifier) @name) @definition.enum

(record_declaration
  name: (identifier) @name) @definition.class

(method_declaration
  name: (identifier) @name) @definition.method

(field_declaration
  declarator: (variable_declarator
    name: (identifier) @name)) @definition.field

(method_invocation
  name: (identifier) @name) @reference.call

(object_creation_expression
  type: (type_identifier) @name) @reference.class

(type_identifier) @name @reference.type

(argument_list
  (identifier) @name) @reference.value
