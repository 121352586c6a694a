/* lex_cases: inputs and the tokens nginx 1.22's ngx_conf_read_token() makes
 * of them, shared by test_lex (our lexer) and test_lex_nginx (a real nginx).
 *
 * Tokens are written [word] ; { } and $ for the end of input, or
 * "!line:message" for the error that stops the file. Inside a word a line
 * feed, tab, CR and NUL are shown as \n \t \r \0; a backslash is itself. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct lex_case {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen(in); set when the input holds a NUL */
	const char *tokens;
};

static const struct lex_case lex_cases[] = {
    {"words split by white space", "a b\tc\r\nd;", 0, "[a][b][c][d];$"},
    {"block", "a {\n b c;\n}\n", 0, "[a]{[b][c];}$"},
    {"paren after double-quoted string", "if ($http_host != \"www.example.com\") { return 301 x; }",
     0, "[if][($http_host][!=][www.example.com][)]{[return][301][x];}$"},
    {"paren after single-quoted string", "if ($a = 'b') { }", 0, "[if][($a][=][b][)]{}$"},
    {"paren starts the next word", "a \"b\")c;", 0, "[a][b][)c];$"},
    {"paren, then a quote is text", "a \"b\")\"c\";", 0, "[a][b][)\"c\"];$"},
    {"space then paren", "a \"b\"\t);", 0, "[a][b][)];$"},
    {"semicolon after quote", "a \"b\";", 0, "[a][b];$"},
    {"brace after quote", "a \"b\"{}", 0, "[a][b]{}$"},
    {"close brace after quote", "a \"b\"}", 0, "[a][b]!1:unexpected \"}\""},
    {"letter after quote", "a \"x\"y;", 0, "[a][x]!1:unexpected \"y\""},
    {"hash after quote", "a \"x\"#c\n;", 0, "[a][x]!1:unexpected \"#\""},
    {"quote after quote", "a \"x\"\"y\";", 0, "[a][x]!1:unexpected \"\"\""},
    {"error line after line feeds", "a\n\"b\nc\"d;", 0, "[a][b\\nc]!3:unexpected \"d\""},
    {"quote inside a word is text", "a b\"c d\";", 0, "[a][b\"c][d\"];$"},
    {"single quote inside double", "a \"'x'\" '\"y\"';", 0, "[a]['x'][\"y\"];$"},
    {"separators inside quotes", "a \"#x {} ; y\";", 0, "[a][#x {} ; y];$"},
    {"escapes unescaped", "a \"x y\\\"z\" 'q\\'r' \"t\\tn\\nr\\r\" \"\\\\\";", 0,
     "[a][x y\"z][q'r][t\\tn\\nr\\r][\\];$"},
    {"unknown escape keeps backslash", "a \"\\d\" \\d;", 0, "[a][\\d][\\d];$"},
    {"escaped semicolon keeps backslash", "a un\\;q;", 0, "[a][un\\;q];$"},
    {"escape at token start", "\\;a b;", 0, "[\\;a][b];$"},
    {"escaped quote at token start", "a \\\"b;", 0, "[a][\"b];$"},
    {"escaped space", "a b\\ c;", 0, "[a][b\\ c];$"},
    {"escaped line feed", "a b\\\nc;", 0, "[a][b\\\\nc];$"},
    {"escaped brace", "a b\\{c;", 0, "[a][b\\{c];$"},
    {"empty quotes", "a \"\" '';", 0, "[a][][];$"},
    {"variable keeps brace", "p http://${host}$uri;", 0, "[p][http://${host}$uri];$"},
    {"variable at token start", "${a} b;", 0, "[${a}][b];$"},
    {"brace without dollar ends word", "a b{c;}", 0, "[a][b]{[c];}$"},
    {"escape clears variable", "a $\\{;", 0, "[a][$\\{];$"},
    {"dollar dollar brace", "a $${x};", 0, "[a][$${x}];$"},
    {"close brace inside word", "a b}c;", 0, "[a][b}c];$"},
    {"close brace at token start", "set $a }x;", 0, "[set][$a]}[x];$"},
    {"comment lines", "# c { ;\nlisten 80;# t\nroot /a#b;\n", 0, "[listen][80];[root][/a#b];$"},
    {"hash inside word", "a b#c;", 0, "[a][b#c];$"},
    {"comment at end without line feed", "a;#x", 0, "[a];$"},
    {"lone semicolon is a token", ";", 0, ";$"},
    {"unterminated double quote", "a \"open", 0,
     "[a]!1:unexpected end of file, expecting \";\" or \"}\""},
    {"unterminated single quote", "a 'open\n", 0,
     "[a]!2:unexpected end of file, expecting \";\" or \"}\""},
    {"word at end of file", "a b", 0, "[a]!1:unexpected end of file, expecting \";\" or \"}\""},
    {"backslash at end of file", "a b\\", 0,
     "[a]!1:unexpected end of file, expecting \";\" or \"}\""},
    {"quote then end of file", "a \"b\"", 0, "[a][b]$"},
    {"NUL inside a word", "a b\0c;", 6, "[a][b\\0c];$"},
    {"NUL inside quotes", "a \"b\0\";", 7, "[a][b\\0];$"},
    {"NUL after a quote", "a \"b\"\0;", 7, "[a][b]!1:unexpected \"\\x00\""},
    {"NUL in a comment", "# a\0b\na;", 8, "[a];$"},
};

#define LEX_NCASES (sizeof(lex_cases) / sizeof(lex_cases[0]))
