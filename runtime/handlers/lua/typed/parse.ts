/**
 * @module handlers/lua/typed/parse — a recursive-descent parser of Lua 5.4 with Wippy's gradual
 * types, which finds the spans of source that are types (annotations, `type` and `interface`
 * declarations, generic parameters, `::`/`as` casts, `!` assertions) so they can be erased. It
 * builds no tree. Beside the spans it notes the modules required by a literal name and the types
 * read as values, and it throws a syntax error located by line and column, worded as lua's. A
 * parser is past the usual file size for a reason: the grammar is one recursive whole.
 */
import { LuaSyntaxError } from "./syntax-error.ts";
import { tokenize, type Token } from "./tokens.ts";

/** Half-open offset ranges of type syntax. */
export type TypeSpans = [start: number, end: number][];

/** A `require("name")` with a literal name, and the offset of `require`. */
export interface RequireCall {
  name: string;
  offset: number;
}

/** A name used as a value that is only a type here (`User(data)`, `typeof(x)`): Wippy's runtime type values. */
export interface TypeValueUse {
  name: string;
  offset: number;
}

export interface ParsedLua {
  spans: TypeSpans;
  requires: RequireCall[];
  typeValues: TypeValueUse[];
}

/** Binary operators: [left, right] priority, as lua's parser. */
const BINARY: Record<string, [number, number]> = {
  or: [1, 1], and: [2, 2],
  "<": [3, 3], ">": [3, 3], "<=": [3, 3], ">=": [3, 3], "~=": [3, 3], "==": [3, 3],
  "|": [4, 4], "~": [5, 5], "&": [6, 6], "<<": [7, 7], ">>": [7, 7],
  "..": [9, 8], "+": [10, 10], "-": [10, 10],
  "*": [11, 11], "/": [11, 11], "//": [11, 11], "%": [11, 11],
  "^": [14, 13],
};
const UNARY_PRIORITY = 12;
/**
 * Wippy's built-in type values (`Number:kind()`, `integer(x)` casts, `typeof(x)`), none of them Lua
 * globals. `string(x)` is one too, but `string` is also Lua's library: only its call counts.
 */
const BUILTIN_TYPE_VALUES = ["typeof", "Number", "Integer", "String", "Boolean", "Any", "Unknown", "integer", "number", "boolean"];
const BLOCK_END = new Set(["else", "elseif", "end", "until"]);

export function parseTypedLua(code: string): ParsedLua {
  return new Parser(code).chunk();
}

class Parser {
  private readonly tokens: Token[];
  private index = 0;
  private readonly spans: TypeSpans = [];
  private readonly requires: RequireCall[] = [];
  /** Names declared by `type`/`interface`, names bound as values anywhere, and names read as values. */
  private readonly typeNames = new Set<string>(BUILTIN_TYPE_VALUES);
  private readonly boundNames = new Set<string>();
  private readonly valueUses: TypeValueUse[] = [];
  /** Above 0 inside a type (whose expressions — `typeof(x)`, `@min(0)` — are erased with it). */
  private typeDepth = 0;

  constructor(private readonly code: string) {
    this.tokens = tokenize(code);
  }

  chunk(): ParsedLua {
    this.block();
    if (this.token.type !== "eof") this.fail(`<eof> expected near ${this.near()}`);
    // Conservative: a name bound as a value anywhere in the file is never taken for a type.
    const typeValues = this.valueUses.filter(({ name }) => (this.typeNames.has(name) && !this.boundNames.has(name)) || (name === "string(…)" && !this.boundNames.has("string")));
    return { spans: this.spans, requires: this.requires, typeValues };
  }

  // ---- tokens ---------------------------------------------------------------------------------

  private get token(): Token {
    return this.tokens[this.index];
  }
  private peek(ahead = 1): Token {
    return this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)];
  }
  /** True when the current token is the keyword or symbol `text` (names are matched with isName). */
  private is(text: string): boolean {
    return (this.token.type === "keyword" || this.token.type === "symbol") && this.token.text === text;
  }
  private isName(text?: string, token = this.token): boolean {
    return token.type === "name" && (text === undefined || token.text === text);
  }
  private next(): Token {
    const token = this.token;
    if (token.type !== "eof") this.index++;
    return token;
  }
  private accept(text: string): boolean {
    if (!this.is(text)) return false;
    this.next();
    return true;
  }
  private expect(text: string): Token {
    if (!this.is(text)) this.fail(`'${text}' expected near ${this.near()}`);
    return this.next();
  }
  /** `end` closing what opened at `opener`, worded as lua's check_match. */
  private expectClosing(text: string, what: string, opener: Token): void {
    if (this.accept(text)) return;
    const openedLine = LuaSyntaxError.at(this.code, opener.start, "").line;
    const currentLine = LuaSyntaxError.at(this.code, this.token.start, "").line;
    if (openedLine === currentLine) this.fail(`'${text}' expected near ${this.near()}`);
    this.fail(`'${text}' expected (to close '${what}' at line ${openedLine}) near ${this.near()}`);
  }
  private name(): Token {
    if (this.token.type !== "name") this.fail(`<name> expected near ${this.near()}`);
    return this.next();
  }
  private near(token = this.token): string {
    return token.type === "eof" ? "<eof>" : `'${token.text}'`;
  }
  private fail(reason: string, token = this.token): never {
    throw LuaSyntaxError.at(this.code, token.start, reason);
  }
  /** Marks everything from `start` to the end of the last token taken as type syntax. */
  private eraseFrom(start: number): void {
    this.spans.push([start, this.tokens[this.index - 1].end]);
  }

  // ---- statements -----------------------------------------------------------------------------

  private block(): void {
    for (;;) {
      if (this.blockEnds()) return;
      if (this.is("return")) {
        this.next();
        if (!this.blockEnds() && !this.is(";")) this.expressionList();
        // What must follow (`end`, `<eof>`, …) is checked by whoever opened the block.
        this.accept(";");
        return;
      }
      this.statement();
    }
  }

  private blockEnds(): boolean {
    return this.token.type === "eof" || (this.token.type === "keyword" && BLOCK_END.has(this.token.text));
  }

  private statement(): void {
    const token = this.token;
    // `type Name` and `interface Name` can only be declarations: as plain Lua they do not parse.
    if (token.type === "name" && this.peek().type === "name") {
      if (token.text === "type") return this.typeDeclaration();
      if (token.text === "interface") return this.interfaceDeclaration();
    }
    switch (token.type === "keyword" || token.type === "symbol" ? token.text : "") {
      case ";":
        this.next();
        return;
      case "if": {
        this.next();
        this.expression();
        this.expect("then");
        this.block();
        while (this.is("elseif")) {
          this.next();
          this.expression();
          this.expect("then");
          this.block();
        }
        if (this.accept("else")) this.block();
        return this.expectClosing("end", "if", token);
      }
      case "while":
        this.next();
        this.expression();
        this.expect("do");
        this.block();
        return this.expectClosing("end", "while", token);
      case "do":
        this.next();
        this.block();
        return this.expectClosing("end", "do", token);
      case "for":
        return this.forStatement();
      case "repeat":
        this.next();
        this.block();
        this.expectClosing("until", "repeat", token);
        return this.expression();
      case "function": {
        this.next();
        this.boundNames.add(this.name().text);
        while (this.accept(".")) this.name();
        if (this.accept(":")) this.name();
        return this.functionBody(token);
      }
      case "local":
        this.next();
        if (this.is("function")) {
          const opener = this.next();
          this.boundNames.add(this.name().text);
          return this.functionBody(opener);
        }
        return this.localStatement();
      case "::":
        this.next();
        this.name();
        this.expect("::");
        return;
      case "break":
        this.next();
        return;
      case "goto":
        this.next();
        this.name();
        return;
      default:
        return this.expressionStatement();
    }
  }

  private forStatement(): void {
    const opener = this.next();
    this.typedName();
    if (this.accept("=")) {
      this.expression();
      this.expect(",");
      this.expression();
      if (this.accept(",")) this.expression();
    } else {
      while (this.accept(",")) this.typedName();
      if (!this.is("in")) this.fail(`'=' or 'in' expected near ${this.near()}`);
      this.next();
      this.expressionList();
    }
    this.expect("do");
    this.block();
    this.expectClosing("end", "for", opener);
  }

  /** `name`, `name <const>`, `name: T`. */
  private typedName(allowAttribute = false): void {
    this.boundNames.add(this.name().text);
    if (allowAttribute && this.is("<")) {
      this.next();
      const attribute = this.name();
      if (attribute.text !== "const" && attribute.text !== "close") this.fail(`unknown attribute '${attribute.text}'`, attribute);
      this.expect(">");
    }
    this.annotation();
  }

  /** An optional `: T` after a name; erased. */
  private annotation(): void {
    if (!this.is(":")) return;
    const start = this.next().start;
    this.type();
    this.eraseFrom(start);
  }

  private localStatement(): void {
    do this.typedName(true);
    while (this.accept(","));
    if (this.accept("=")) this.expressionList();
  }

  private expressionStatement(): void {
    this.noteAssigned();
    const call = this.suffixedExpression();
    if (this.is("=") || this.is(",")) {
      while (this.accept(",")) {
        this.noteAssigned();
        this.suffixedExpression();
      }
      this.expect("=");
      this.expressionList();
      return;
    }
    if (!call) this.fail(`syntax error near ${this.near()}`);
  }

  /** A global assigned by name (`User = {}`) is a value. */
  private noteAssigned(): void {
    const after = this.peek();
    if (this.token.type === "name" && after.type === "symbol" && (after.text === "=" || after.text === ",")) this.boundNames.add(this.token.text);
  }

  /** `type Name<T> = T` — erased whole. */
  private typeDeclaration(): void {
    const start = this.next().start;
    this.typeNames.add(this.name().text);
    if (this.is("<")) this.typeParameters();
    this.expect("=");
    this.type();
    this.eraseFrom(start);
  }

  /** `interface Name : Base, Other  function method(a: T): R  end` — erased whole. */
  private interfaceDeclaration(): void {
    const opener = this.next();
    this.typeNames.add(this.name().text);
    if (this.accept(":")) {
      this.name();
      while (this.accept(",")) this.name();
    }
    while (this.is("function")) {
      this.next();
      this.name();
      this.parameters();
      this.returnAnnotation();
    }
    this.expectClosing("end", "interface", opener);
    this.eraseFrom(opener.start);
  }

  // ---- functions ------------------------------------------------------------------------------

  /** `<T, U: C>(params): R  block  end` after `function` (and its name). */
  private functionBody(opener: Token): void {
    if (this.is("<")) {
      const start = this.token.start;
      this.typeParameters();
      this.eraseFrom(start);
    }
    this.parameters();
    this.returnAnnotation();
    this.block();
    this.expectClosing("end", "function", opener);
  }

  private parameters(): void {
    this.expect("(");
    if (!this.is(")")) {
      do {
        if (this.accept("...")) {
          this.annotation();
          break;
        }
        this.typedName();
      } while (this.accept(","));
    }
    this.expect(")");
  }

  /** `: T`, `: T, U` or `: (T, U)` after a parameter list; erased. */
  private returnAnnotation(): void {
    if (!this.is(":")) return;
    const start = this.next().start;
    this.typeList();
    this.eraseFrom(start);
  }

  private typeParameters(): void {
    this.expect("<");
    do {
      this.name();
      if (this.accept(":")) this.type();
    } while (this.accept(","));
    this.closeAngle();
  }

  // ---- expressions ----------------------------------------------------------------------------

  private expressionList(): void {
    do this.expression();
    while (this.accept(","));
  }

  private expression(limit = 0): void {
    if (this.is("not") || this.is("#") || this.is("-") || this.is("~")) {
      this.next();
      this.expression(UNARY_PRIORITY);
    } else this.simpleExpression();
    for (;;) {
      const operator = this.token.type === "keyword" || this.token.type === "symbol" ? BINARY[this.token.text] : undefined;
      if (!operator || operator[0] <= limit) return;
      this.next();
      this.expression(operator[1]);
    }
  }

  private simpleExpression(): void {
    const token = this.token;
    switch (token.type) {
      case "number":
      case "string":
        this.next();
        break;
      case "keyword":
        if (token.text === "nil" || token.text === "true" || token.text === "false") this.next();
        else if (token.text === "function") {
          this.next();
          this.functionBody(token);
        } else this.suffixedExpression();
        break;
      case "symbol":
        if (token.text === "...") this.next();
        else if (token.text === "{") this.tableConstructor();
        else this.suffixedExpression();
        break;
      default:
        this.suffixedExpression();
    }
    this.typeAssertions();
  }

  /** `x!`, `x :: T`, `x as T` after an operand: erased. */
  private typeAssertions(): void {
    for (;;) {
      const start = this.token.start;
      if (this.is("!")) {
        this.next();
      } else if (this.is("::") && !this.startsLabel()) {
        this.next();
        this.type();
      } else if (this.isName("as") && !["=", ",", ".", "[", "(", ":"].includes(this.peek().text)) {
        this.next();
        this.type();
      } else return;
      this.eraseFrom(start);
    }
  }

  /**
   * After an operand, `::` is a cast unless it opens a label: `x = f()  ::top::` is a label, but in
   * `x = b :: T  ::top::` the first `::` is a cast, since `::T::` would leave `top ::` dangling.
   */
  private startsLabel(): boolean {
    const symbol = (token: Token, text: string): boolean => token.type === "symbol" && token.text === text;
    if (!(this.isName(undefined, this.peek()) && symbol(this.peek(2), "::"))) return false;
    return !(this.isName(undefined, this.peek(3)) && symbol(this.peek(4), "::"));
  }

  /** Returns whether the expression ends in a call (a statement must be a call or an assignment). */
  private suffixedExpression(): boolean {
    if (this.token.type === "name") {
      const name = this.next();
      if (name.text === "require") this.noteRequire(name);
      if (this.typeDepth === 0) this.valueUses.push({ name: name.text === "string" && this.is("(") ? "string(…)" : name.text, offset: name.start });
    } else if (this.is("(")) {
      this.next();
      this.expression();
      this.expect(")");
    } else this.fail(`unexpected symbol near ${this.near()}`);
    let call = false;
    for (;;) {
      if (this.is(".")) {
        this.next();
        this.name();
        call = false;
      } else if (this.is("[")) {
        this.next();
        this.expression();
        this.expect("]");
        call = false;
      } else if (this.is(":")) {
        this.next();
        this.name();
        this.callArguments();
        call = true;
      } else if (this.is("(") || this.is("{") || this.token.type === "string") {
        this.callArguments();
        call = true;
      } else if (this.is("!")) {
        // `(user!).name` and `user!.name`: the assertion binds to the operand before it.
        const start = this.next().start;
        this.eraseFrom(start);
      } else return call;
    }
  }

  /** `require("x")`, `require "x"` or `require 'x'` with a plain literal: the module it names. */
  private noteRequire(name: Token): void {
    const literal = this.is("(") && this.peek().type === "string" && this.peek(2).text === ")" ? this.peek() : this.token.type === "string" ? this.token : undefined;
    if (literal && /^["'][^\\"']*["']$/.test(literal.text)) this.requires.push({ name: literal.text.slice(1, -1), offset: name.start });
  }

  private callArguments(): void {
    if (this.token.type === "string") {
      this.next();
      return;
    }
    if (this.is("{")) return this.tableConstructor();
    const opener = this.expect("(");
    if (!this.is(")")) this.expressionList();
    this.expectClosing(")", "(", opener);
  }

  private tableConstructor(): void {
    const opener = this.expect("{");
    while (!this.is("}")) {
      if (this.is("[")) {
        this.next();
        this.expression();
        this.expect("]");
        this.expect("=");
        this.expression();
      } else if (this.token.type === "name" && this.peek().text === "=" && this.peek().type === "symbol") {
        this.next();
        this.next();
        this.expression();
      } else this.expression();
      if (!this.accept(",") && !this.accept(";")) break;
    }
    this.expectClosing("}", "{", opener);
  }

  // ---- types ----------------------------------------------------------------------------------

  private typeList(): void {
    do this.type();
    while (this.accept(","));
  }

  /** A union or intersection of simple types, or `A extends B ? C : D`. */
  private type(): void {
    this.typeDepth++;
    try {
      this.unionType();
    } finally {
      this.typeDepth--;
    }
  }

  private unionType(): void {
    this.simpleType();
    if (this.isName("extends")) {
      this.next();
      // Its `?` belongs to the condition: `T extends string ? A : B`.
      this.simpleType(false);
      this.expect("?");
      this.type();
      this.expect(":");
      this.type();
      return;
    }
    while (this.is("|") || this.is("&")) {
      this.next();
      this.simpleType();
    }
  }

  /** A primary type with its validators (`@min(0)`), `[]`/`[K]` suffixes and `?` marks. */
  private simpleType(optionalMarks = true): void {
    this.primaryType();
    for (;;) {
      if (optionalMarks && this.is("?")) this.next();
      else if (this.is("@")) {
        this.next();
        this.name();
        if (this.is("(")) {
          this.next();
          if (!this.is(")")) this.expressionList();
          this.expect(")");
        }
      } else if (this.is("[")) {
        this.next();
        if (!this.is("]")) this.type();
        this.expect("]");
      } else return;
    }
  }

  private primaryType(): void {
    const token = this.token;
    if (token.type === "string" || token.type === "number" || this.is("nil") || this.is("true") || this.is("false")) return void this.next();
    if (this.is("-") && this.peek().type === "number") {
      this.next();
      this.next();
      return;
    }
    if (this.is("{")) return this.tableType();
    if (this.is("(")) return this.functionOrGroupType();
    if (token.type !== "name" && !this.is("function")) this.fail(`type expected near ${this.near()}`);
    this.next();
    switch (token.text) {
      case "fun":
      case "function":
        if (!this.is("(")) return;
        this.typeParameterList();
        if (this.accept(":")) this.type();
        return;
      case "interface":
      case "readonly":
        if (this.is("{")) this.tableType();
        return;
      case "asserts":
        this.name();
        if (this.isName("is")) {
          this.next();
          this.type();
        }
        return;
      case "typeof":
        if (this.is("(")) {
          this.next();
          this.expression();
          this.expect(")");
        }
        return;
      case "keyof":
        if (this.is("(")) {
          this.next();
          this.type();
          this.expect(")");
        }
        return;
    }
    while (this.is(".")) {
      this.next();
      this.name();
    }
    if (this.is("<")) {
      this.next();
      this.typeList();
      this.closeAngle();
    }
  }

  /** `{T}`, `{[K]: V}`, `{name: T, other?: U}`, `{}`. */
  private tableType(): void {
    const opener = this.expect("{");
    const isField = (): boolean => (this.token.type === "name" || this.token.type === "keyword") && (this.peek().text === ":" || (this.peek().text === "?" && this.peek(2).text === ":"));
    if (this.is("[")) {
      this.next();
      this.type();
      this.expect("]");
      this.expect(":");
      this.type();
      this.accept(",");
    } else if (isField()) {
      while (isField()) {
        this.next();
        this.accept("?");
        this.expect(":");
        this.type();
        if (!this.accept(",") && !this.accept(";")) break;
      }
    } else if (!this.is("}")) {
      this.type();
      this.accept(",");
    }
    this.expectClosing("}", "{", opener);
  }

  /** `(a: T, U, ...V) -> R`, or a parenthesised type or tuple `(T, U)`. */
  private functionOrGroupType(): void {
    this.typeParameterList();
    if (this.accept("->")) this.type();
  }

  /** `(name: T, U, ...: V)` in a type. */
  private typeParameterList(): void {
    const opener = this.expect("(");
    if (!this.is(")")) {
      do {
        if (this.accept("...")) {
          this.accept(":");
          if (!this.is(")")) this.type();
        } else if (this.token.type === "name" && this.peek().text === ":" && this.peek().type === "symbol") {
          this.next();
          this.next();
          this.type();
        } else this.type();
      } while (this.accept(","));
    }
    this.expectClosing(")", "(", opener);
  }

  /** `>` closing type arguments; a `>>` closes two (`Array<Map<K, V>>`), so it is split. */
  private closeAngle(): void {
    if (this.is(">>")) {
      const token = this.token;
      this.tokens.splice(this.index, 1, { ...token, text: ">", end: token.start + 1 }, { ...token, text: ">", start: token.start + 1 });
    }
    this.expect(">");
  }
}
