/* repl_complete.c — the REPL's tab completion: names from tortuga.repl.complete ("tg.vo" -> tg.volume, "v:co" ->
 * a volume's methods), listed by their last component; inside a string literal readline completes file names.
 */
#include <stdlib.h>
#include <string.h>

#include <readline/readline.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "host.h"

int repl_module_ref = LUA_NOREF;

static char **comp_list;
static size_t comp_n, comp_i;

void repl_complete_clear(void)
{
    for (size_t i = 0; i < comp_n; i++) free(comp_list[i]);
    free(comp_list);
    comp_list = NULL;
    comp_n = comp_i = 0;
}

static int comp_lua(lua_State *L)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, repl_module_ref);
    lua_getfield(L, -1, "complete");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

static void comp_fill(const char *text)
{
    lua_State *L = host_L;
    repl_complete_clear();
    if (!L || repl_module_ref == LUA_NOREF) return;
    int top = lua_gettop(L);
    lua_pushcfunction(L, comp_lua);
    lua_pushstring(L, text);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
        lua_Integer n = luaL_len(L, -1);
        comp_list = n > 0 ? calloc((size_t)n, sizeof *comp_list) : NULL;
        for (lua_Integer i = 1; comp_list && i <= n; i++) {
            lua_rawgeti(L, -1, i);
            const char *s = lua_tostring(L, -1);
            if (s && (comp_list[comp_n] = strdup(s))) comp_n++;
            lua_pop(L, 1);
        }
    }
    lua_settop(L, top);
}

static char *comp_generator(const char *text, int state)
{
    if (state == 0) comp_fill(text);
    return comp_i < comp_n ? strdup(comp_list[comp_i++]) : NULL;
}

static char **attempt_completion(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    if (rl_completion_quote_character) return NULL; /* inside a string: complete file names */
    rl_attempted_completion_over = 1;
    rl_completion_suppress_append = 1; /* a name is usually followed by '.', ':' or '(' */
    return rl_completion_matches(text, comp_generator);
}

/* Inside a string literal, a word is the whole text after the quote (a file name, '/' included);
 * elsewhere, words break at Lua's operators and brackets but not at '.' and ':'. */
static char lua_word_breaks[] = " \t\n\"\\'`@$><=;|&{(+-*/%^~#,[]})";
static char string_word_breaks[] = "\"'";

static char *word_break_hook(void)
{
    char quote = 0;
    for (int i = 0; i < rl_point && rl_line_buffer[i]; i++) {
        char c = rl_line_buffer[i];
        if (quote && c == '\\') i++;
        else if (quote && c == quote) quote = 0;
        else if (!quote && (c == '"' || c == '\'')) quote = c;
    }
    return quote ? string_word_breaks : lua_word_breaks;
}

/* List matches by their last component ("volume" rather than "tg.volume"). */
static void display_matches(char **matches, int num, int max_length)
{
    (void)max_length;
    char **shown = malloc(((size_t)num + 2) * sizeof *shown);
    if (!shown) return;
    int maxl = 0;
    shown[0] = matches[0];
    for (int i = 1; i <= num; i++) {
        const char *s = matches[i], *cut = s;
        for (const char *p = s; *p; p++)
            if ((*p == '.' || *p == ':') && p[1]) cut = p + 1;
        shown[i] = (char *)cut;
        int l = (int)strlen(cut);
        if (l > maxl) maxl = l;
    }
    shown[num + 1] = NULL;
    rl_display_match_list(shown, num, maxl);
    free(shown);
    rl_forced_update_display();
}

/* Hand readline the completion functions and the word breaks of Lua. */
void repl_complete_init(void)
{
    rl_attempted_completion_function = attempt_completion;
    rl_completion_display_matches_hook = display_matches;
    rl_basic_word_break_characters = lua_word_breaks;
    rl_completer_word_break_characters = lua_word_breaks;
    rl_completion_word_break_hook = word_break_hook;
    rl_completer_quote_characters = "\"'";
}
