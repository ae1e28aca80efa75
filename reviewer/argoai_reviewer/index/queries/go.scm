; Tags of Go code: definitions and references, by name.
; Adapted from tree-sitter-go's queries/tags.scm (MIT License, Copyright (c) 2014 Max Brunsfeld),
; without its documentation-comment predicates, extended with package-level constants and variables.

(function_declaration
  name: (identifier) @name) @definition.function

(method_declaration
  name: (field_identifier) @name) @definition.method

(type_spec
  name: (type_identifier) @name) @definition.type

(source_file
  (const_declaration
    (const_spec
      name: (identifier) @name) @definition.constant))

(source_file
  (var_declaration
    (var_spec
      name: (identifier) @name) @definition.constant))

(call_expression
  function: [
    (identifier) @name
    (parenthesized_expression (identifier) @name)
    (selector_expression field: (field_identifier) @name)
    (parenthesized_expression (selector_expression field: (field_identifier) @name))
  ]) @reference.call

(type_identifier) @name @reference.type

(argument_list
  (identifier) @name) @reference.value
