package dev.pinfleet.controller.freeze;

import dev.pinfleet.manifest.Names;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * A PEP 508 environment marker ({@code python_version < "3.11" and (sys_platform == "linux" or extra == "x")}):
 * parsed once, evaluated against a {@link MarkerEnvironment}. Comparisons follow
 * {@code packaging.markers}: when the operator and the literal form a valid version specifier, the variable's
 * value is compared as a PEP 440 version (pre-releases included); otherwise {@code == != < <= > >=} compare
 * strings and {@code in}/{@code not in} test substrings; {@code extra} is compared by normalized name.
 */
public final class Marker {
    private final Node root;
    private final String text;

    private Marker(Node root, String text) {
        this.root = root;
        this.text = text;
    }

    /**
     * Parses marker text.
     *
     * @throws IllegalArgumentException saying what is wrong and where
     */
    public static Marker parse(String text) {
        Parser p = new Parser(text);
        Node n = p.or();
        if (p.peek() != null) {
            throw p.error("unexpected '" + p.peek().text + "'");
        }
        return new Marker(n, text.strip());
    }

    /**
     * Evaluates the marker for the target with the given extras requested ({@code extra} is {@code ""} when
     * none; with several, true when it holds for any, as pip evaluates Requires-Dist).
     *
     * @throws IllegalArgumentException when the answer needs a variable the target does not know, or depends
     *                                  on its unknown patch release
     */
    public boolean evaluate(MarkerEnvironment env, Collection<String> extras) {
        List<String> contexts = extras.isEmpty() ? List.of("") : List.copyOf(extras);
        Boolean answer = null;
        for (Map<String, String> variant : env.variants()) {
            boolean any = false;
            for (String extra : contexts) {
                any |= root.eval(variant, Names.normalizeProject(extra));
            }
            if (answer != null && answer != any) {
                throw new IllegalArgumentException("marker '" + text + "' depends on the patch release of Python "
                        + variant.get("python_version") + "; give the full target version, e.g. --python "
                        + variant.get("python_version") + ".N");
            }
            answer = any;
        }
        return answer;
    }

    /** The marker as written (trimmed). */
    @Override
    public String toString() {
        return text;
    }

    private interface Node {
        boolean eval(Map<String, String> env, String extra);
    }

    private record Or(Node a, Node b) implements Node {
        @Override
        public boolean eval(Map<String, String> env, String extra) {
            return a.eval(env, extra) || b.eval(env, extra);
        }
    }

    private record And(Node a, Node b) implements Node {
        @Override
        public boolean eval(Map<String, String> env, String extra) {
            return a.eval(env, extra) && b.eval(env, extra);
        }
    }

    /** An operand: a variable (canonical name) or a literal. */
    private record Operand(String variable, String literal) {
        String value(Map<String, String> env, String extra) {
            if (variable == null) {
                return literal;
            }
            if (variable.equals("extra")) {
                return extra;
            }
            String v = env.get(variable);
            if (v == null) {
                throw new IllegalArgumentException("marker variable " + MarkerEnvironment.whyUnknown(variable));
            }
            return v;
        }
    }

    private record Compare(Operand lhs, String op, Operand rhs) implements Node {
        @Override
        public boolean eval(Map<String, String> env, String extra) {
            String l = lhs.value(env, extra);
            String r = rhs.value(env, extra);
            if ("extra".equals(lhs.variable()) || "extra".equals(rhs.variable())) {
                l = Names.normalizeProject(l);
                r = Names.normalizeProject(r);
            }
            switch (op) {
                case "in":
                    return r.contains(l);
                case "not in":
                    return !r.contains(l);
                default:
                    break;
            }
            Specifier spec = null;
            try {
                spec = Specifier.parse(op + r);
            } catch (IllegalArgumentException notAVersion) {
                // compared as strings below
            }
            if (spec != null && (op.equals("===") || Pep440Version.tryParse(l) != null)) {
                return spec.contains(l);
            }
            int c = l.compareTo(r);
            return switch (op) {
                case "==" -> c == 0;
                case "!=" -> c != 0;
                case "<" -> c < 0;
                case "<=" -> c <= 0;
                case ">" -> c > 0;
                case ">=" -> c >= 0;
                default -> throw new IllegalArgumentException("'" + l + "' " + op + " '" + r
                        + "' cannot be evaluated: " + op + " needs PEP 440 versions on both sides");
            };
        }
    }

    private record Token(String kind, String text, int pos) {}

    private static final class Parser {
        private final String s;
        private final List<Token> tokens = new ArrayList<>();
        private int next;

        Parser(String s) {
            this.s = s;
            tokenize();
        }

        private void tokenize() {
            int i = 0;
            while (i < s.length()) {
                char c = s.charAt(i);
                if (Character.isWhitespace(c)) {
                    i++;
                } else if (c == '(' || c == ')') {
                    tokens.add(new Token(String.valueOf(c), String.valueOf(c), i));
                    i++;
                } else if (c == '\'' || c == '"') {
                    int end = s.indexOf(c, i + 1);
                    if (end < 0) {
                        throw new IllegalArgumentException("marker '" + s.strip() + "': unterminated string at character "
                                + (i + 1));
                    }
                    tokens.add(new Token("str", s.substring(i + 1, end), i));
                    i = end + 1;
                } else if ("<>=!~".indexOf(c) >= 0) {
                    int j = i;
                    while (j < s.length() && "<>=!~".indexOf(s.charAt(j)) >= 0) {
                        j++;
                    }
                    String op = s.substring(i, j);
                    if (!List.of("===", "==", "!=", "<=", ">=", "~=", "<", ">").contains(op)) {
                        throw new IllegalArgumentException("marker '" + s.strip() + "': '" + op
                                + "' is not a comparison operator (character " + (i + 1) + ")");
                    }
                    tokens.add(new Token("op", op, i));
                    i = j;
                } else if (Character.isLetterOrDigit(c) || c == '_') {
                    int j = i;
                    while (j < s.length() && (Character.isLetterOrDigit(s.charAt(j)) || s.charAt(j) == '_'
                            || s.charAt(j) == '.')) {
                        j++;
                    }
                    tokens.add(new Token("word", s.substring(i, j), i));
                    i = j;
                } else {
                    throw new IllegalArgumentException("marker '" + s.strip() + "': unexpected '" + c + "' at character "
                            + (i + 1));
                }
            }
        }

        Token peek() {
            return next < tokens.size() ? tokens.get(next) : null;
        }

        private boolean atWord(String w) {
            Token t = peek();
            return t != null && t.kind().equals("word") && t.text().equals(w);
        }

        Node or() {
            Node n = and();
            while (atWord("or")) {
                next++;
                n = new Or(n, and());
            }
            return n;
        }

        private Node and() {
            Node n = expr();
            while (atWord("and")) {
                next++;
                n = new And(n, expr());
            }
            return n;
        }

        private Node expr() {
            Token t = peek();
            if (t == null) {
                throw error("expected a comparison");
            }
            if (t.kind().equals("(")) {
                next++;
                Node n = or();
                Token close = peek();
                if (close == null || !close.kind().equals(")")) {
                    throw error("expected ')'");
                }
                next++;
                return n;
            }
            Operand lhs = operand();
            String op = operator();
            Operand rhs = operand();
            if ((lhs.variable() == null) == (rhs.variable() == null)) {
                throw error("a comparison needs one variable and one quoted string");
            }
            return new Compare(lhs, op, rhs);
        }

        private Operand operand() {
            Token t = peek();
            if (t == null) {
                throw error("expected a variable or a quoted string");
            }
            next++;
            if (t.kind().equals("str")) {
                return new Operand(null, t.text());
            }
            if (t.kind().equals("word")) {
                String v = MarkerEnvironment.canonicalVariable(t.text());
                if (v == null) {
                    next--;
                    throw error("unknown marker variable '" + t.text() + "'");
                }
                return new Operand(v, null);
            }
            next--;
            throw error("expected a variable or a quoted string");
        }

        private String operator() {
            Token t = peek();
            if (t == null) {
                throw error("expected an operator");
            }
            next++;
            if (t.kind().equals("op")) {
                return t.text();
            }
            if (t.kind().equals("word") && t.text().equals("in")) {
                return "in";
            }
            if (t.kind().equals("word") && t.text().equals("not") && atWord("in")) {
                next++;
                return "not in";
            }
            next--;
            throw error("expected an operator");
        }

        IllegalArgumentException error(String why) {
            Token t = peek();
            String where = t == null ? "at the end" : "at character " + (t.pos() + 1);
            return new IllegalArgumentException("marker '" + s.strip() + "': " + why + " " + where);
        }
    }
}
