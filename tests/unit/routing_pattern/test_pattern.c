/* evbridge — unit tests for event pattern semantics (server/routing/pattern.h).
 *
 * Table-driven: each row is (pattern, event, expected match), positive and negative cases
 * for every operator and for event-ruler's subtleties (exists:false on object paths,
 * anything-but with null vs a missing field, no combining of fields across array elements,
 * numeric on strings, "" vs null, dotted keys, $or nesting). Every row is also run through a
 * one-rule evb_matcher, which must agree.
 */
#include "tests/unit/routing_pattern/pattern_test.h"

static void test_basics(void)
{
    static const match_row rows[] = {
        {"{}", "{'a':1}", 1},
        {"{}", "{}", 1},
        {"{'type':['a']}", "{'type':'a'}", 1},
        {"{'type':['a']}", "{'type':'b'}", 0},
        {"{'type':['a']}", "{}", 0},
        {"{'type':['a']}", "{'type':'A'}", 0},
        {"{'type':['a'],'source':['s']}", "{'type':'a','source':'s','id':'1'}", 1},
        {"{'type':['a'],'source':['s']}", "{'type':'a','source':'t'}", 0},
        {"{'type':['a'],'source':['s']}", "{'type':'a'}", 0},
        {"{'type':['a','b']}", "{'type':'b'}", 1},
        {"{'type':['a','b']}", "{'type':'c'}", 0},
        {"{'data':{'x':['1']}}", "{'data':{'x':'1','y':2},'type':'t'}", 1},
        {"{'data':{'x':['1']}}", "{'data':'{\\'x\\':1}'}", 0},
        /* dotted keys are paths */
        {"{'a':{'b.c':[1]}}", "{'a':{'b':{'c':1}}}", 1},
        {"{'a.b.c':[1]}", "{'a':{'b':{'c':1}}}", 1},
        {"{'a':{'b':{'c':[1]}}}", "{'a':{'b':{'c':1}}}", 1},
        {"{'a':{'b':{'c':[1]}}}", "{'a':{'b.c':1}}", 1},
        {"{'a':{'b.c':[1]}}", "{'a':{'b':{'c':2}}}", 0},
        /* only leaves are values */
        {"{'a':['x']}", "{'a':{'b':'x'}}", 0},
        {"{'a':{'b':['x']}}", "{'a':'x'}", 0},
        /* the same path twice is an AND */
        {"{'a':{'b':[1]},'a.b':[{'numeric':['>',0]}]}", "{'a':{'b':1}}", 1},
        {"{'a':{'b':[1]},'a.b':[2]}", "{'a':{'b':1}}", 0},
        /* UTF-8 */
        {"{'名前':['値']}", "{'名前':'値'}", 1},
        {"{'名前':['値']}", "{'名前':'値x'}", 0},
    };
    RUN_ROWS(rows);
}

static void test_exact_values(void)
{
    static const match_row rows[] = {
        {"{'n':[300]}", "{'n':300}", 1},
        {"{'n':[300]}", "{'n':300.0}", 1},
        {"{'n':[300]}", "{'n':3.0e2}", 1},
        {"{'n':[3.0e2]}", "{'n':300}", 1},
        {"{'n':[300]}", "{'n':301}", 0},
        {"{'n':[300]}", "{'n':'300'}", 0},
        {"{'n':['300']}", "{'n':300}", 0},
        {"{'n':[0]}", "{'n':-0.0}", 1},
        {"{'n':[-1.5]}", "{'n':-1.50}", 1},
        {"{'n':[1e20]}", "{'n':100000000000000000000}", 1},
        {"{'n':[1.7976931348623157e308]}", "{'n':1.7976931348623157e308}", 1},
        {"{'b':[true]}", "{'b':true}", 1},
        {"{'b':[true]}", "{'b':'true'}", 0},
        {"{'b':[true]}", "{'b':1}", 0},
        {"{'b':[false]}", "{'b':false}", 1},
        {"{'b':[false]}", "{'b':null}", 0},
        {"{'b':[null]}", "{'b':null}", 1},
        {"{'b':[null]}", "{'b':''}", 0},
        {"{'b':[null]}", "{}", 0},
        {"{'b':['']}", "{'b':''}", 1},
        {"{'b':['']}", "{'b':null}", 0},
        {"{'b':['']}", "{}", 0},
        {"{'b':['null']}", "{'b':null}", 0},
    };
    RUN_ROWS(rows);
}

static void test_arrays(void)
{
    static const match_row rows[] = {
        {"{'a':['x']}", "{'a':['y','x']}", 1},
        {"{'a':['x']}", "{'a':['y','z']}", 0},
        {"{'a':['x']}", "{'a':[['y'],['x']]}", 1},
        {"{'a':['x']}", "{'a':[]}", 0},
        {"{'a':{'b':[1]}}", "{'a':[{'b':2},{'b':1}]}", 1},
        {"{'a':{'b':[1]}}", "{'a':[[{'b':1}]]}", 1},
        /* fields are never combined across elements of one array */
        {"{'a':{'b':[1],'c':[4]}}", "{'a':[{'b':1,'c':2},{'b':3,'c':4}]}", 0},
        {"{'a':{'b':[1],'c':[4]}}", "{'a':[{'b':1,'c':4}]}", 1},
        {"{'a':{'b':[1],'c':[4]}}", "{'a':[{'b':1,'c':2},{'b':1,'c':4}]}", 1},
        {"{'a':{'b':[3],'c':[2]}}", "{'a':[{'b':1,'c':2},{'b':3,'c':4}]}", 0},
        {"{'a':{'b':{'c':[1],'d':[2]}}}", "{'a':[{'b':[{'c':1},{'d':2}]}]}", 0},
        {"{'a':{'b':{'c':[1],'d':[2]}}}", "{'a':[{'b':[{'c':1,'d':2}]}]}", 1},
        {"{'a':{'b':{'c':[1],'d':[2]}}}", "{'a':[{'b':[{'c':1}]},{'b':[{'d':2}]}]}", 0},
        /* different arrays inside one element combine freely */
        {"{'a':{'b':[1],'c':[2]}}", "{'a':[{'b':[0,1],'c':[2,3]}]}", 1},
        {"{'x':['1'],'a':{'b':[1]}}", "{'x':'1','a':[{'b':1}]}", 1},
        {"{'x':['1'],'a':{'b':[1]}}", "{'x':['0','1'],'a':[{'b':1}]}", 1},
        /* elements of two unrelated arrays combine freely */
        {"{'a':{'b':[1]},'c':{'d':[2]}}", "{'a':[{'b':0},{'b':1}],'c':[{'d':2}]}", 1},
        /* backtracking: the first candidate for b is incompatible, the second is not */
        {"{'a':{'b':[1],'c':[{'numeric':['>',3]}]}}", "{'a':[{'b':1,'c':2},{'b':1,'c':5}]}", 1},
        {"{'a':{'b':[1],'c':[{'numeric':['>',3]}],'d':['z']}}",
         "{'a':[{'b':1,'c':5,'d':'y'},{'b':1,'c':2,'d':'z'},{'b':0,'c':9,'d':'z'}]}", 0},
        /* an array of arrays is still one array per level */
        {"{'a':[1]}", "{'a':[[1,2],[3]]}", 1},
    };
    RUN_ROWS(rows);
}

static void test_prefix_suffix(void)
{
    static const match_row rows[] = {
        {"{'s':[{'prefix':'ab'}]}", "{'s':'abc'}", 1},
        {"{'s':[{'prefix':'ab'}]}", "{'s':'ab'}", 1},
        {"{'s':[{'prefix':'ab'}]}", "{'s':'a'}", 0},
        {"{'s':[{'prefix':'ab'}]}", "{'s':'xab'}", 0},
        {"{'s':[{'prefix':'ab'}]}", "{'s':'ABc'}", 0},
        {"{'s':[{'prefix':'5'}]}", "{'s':55}", 0},
        {"{'s':[{'prefix':''}]}", "{'s':''}", 1},
        {"{'s':[{'prefix':''}]}", "{'s':'x'}", 1},
        {"{'s':[{'prefix':''}]}", "{'s':null}", 0},
        {"{'s':[{'prefix':''}]}", "{}", 0},
        {"{'s':[{'prefix':{'equals-ignore-case':'AB'}}]}", "{'s':'abX'}", 1},
        {"{'s':[{'prefix':{'equals-ignore-case':'AB'}}]}", "{'s':'aB'}", 1},
        {"{'s':[{'prefix':{'equals-ignore-case':'AB'}}]}", "{'s':'a'}", 0},
        {"{'s':[{'prefix':{'equals-ignore-case':'AB'}}]}", "{'s':'xab'}", 0},
        {"{'s':[{'suffix':'.png'}]}", "{'s':'a.png'}", 1},
        {"{'s':[{'suffix':'.png'}]}", "{'s':'.png'}", 1},
        {"{'s':[{'suffix':'.png'}]}", "{'s':'a.PNG'}", 0},
        {"{'s':[{'suffix':'.png'}]}", "{'s':'png'}", 0},
        {"{'s':[{'suffix':''}]}", "{'s':'x'}", 1},
        {"{'s':[{'suffix':{'equals-ignore-case':'.PNG'}}]}", "{'s':'a.png'}", 1},
        {"{'s':[{'suffix':{'equals-ignore-case':'.PNG'}}]}", "{'s':'a.pn'}", 0},
        {"{'s':[{'prefix':'ab'},{'suffix':'yz'}]}", "{'s':'xxyz'}", 1},
        {"{'s':[{'prefix':'ab'},'q']}", "{'s':'q'}", 1},
        {"{'s':[{'prefix':'ab'},{'prefix':'abc'}]}", "{'s':'abd'}", 1},
    };
    RUN_ROWS(rows);
}

static void test_ignore_case(void)
{
    static const match_row rows[] = {
        {"{'s':[{'equals-ignore-case':'Alice'}]}", "{'s':'ALICE'}", 1},
        {"{'s':[{'equals-ignore-case':'Alice'}]}", "{'s':'alice'}", 1},
        {"{'s':[{'equals-ignore-case':'Alice'}]}", "{'s':'alic'}", 0},
        {"{'s':[{'equals-ignore-case':'Alice'}]}", "{'s':'alicex'}", 0},
        {"{'s':[{'equals-ignore-case':'1'}]}", "{'s':1}", 0},
        {"{'s':[{'equals-ignore-case':''}]}", "{'s':''}", 1},
        {"{'s':[{'equals-ignore-case':'ÉCOLE'}]}", "{'s':'école'}", 1},
        {"{'s':[{'equals-ignore-case':'ΣΟΦΙΑ'}]}", "{'s':'σοφια'}", 1},
        {"{'s':[{'equals-ignore-case':'ПРИВЕТ'}]}", "{'s':'привет'}", 1},
        {"{'s':[{'equals-ignore-case':'ＡＢ'}]}", "{'s':'ａｂ'}", 1},
        {"{'s':[{'equals-ignore-case':'ΣΟΦΙΑ'}]}", "{'s':'σοφιb'}", 0},
        /* simple folding only: no ß -> ss */
        {"{'s':[{'equals-ignore-case':'Straße'}]}", "{'s':'STRASSE'}", 0},
        {"{'s':[{'equals-ignore-case':'Straße'}]}", "{'s':'STRAßE'}", 1},
    };
    RUN_ROWS(rows);
}

static void test_wildcard_contains(void)
{
    static const match_row rows[] = {
        {"{'s':[{'wildcard':'a*c'}]}", "{'s':'ac'}", 1},
        {"{'s':[{'wildcard':'a*c'}]}", "{'s':'abc'}", 1},
        {"{'s':[{'wildcard':'a*c'}]}", "{'s':'abbbc'}", 1},
        {"{'s':[{'wildcard':'a*c'}]}", "{'s':'ab'}", 0},
        {"{'s':[{'wildcard':'a*c'}]}", "{'s':'xabc'}", 0},
        {"{'s':[{'wildcard':'a*c'}]}", "{'s':'abcx'}", 0},
        {"{'s':[{'wildcard':'*'}]}", "{'s':''}", 1},
        {"{'s':[{'wildcard':'*'}]}", "{'s':5}", 0},
        {"{'s':[{'wildcard':'abc'}]}", "{'s':'abc'}", 1},
        {"{'s':[{'wildcard':'abc'}]}", "{'s':'abcd'}", 0},
        {"{'s':[{'wildcard':'a\\\\*c'}]}", "{'s':'a*c'}", 1},
        {"{'s':[{'wildcard':'a\\\\*c'}]}", "{'s':'abc'}", 0},
        {"{'s':[{'wildcard':'a\\\\\\\\c'}]}", "{'s':'a\\\\c'}", 1},
        {"{'s':[{'wildcard':'a\\\\\\\\*'}]}", "{'s':'a\\\\xyz'}", 1},
        {"{'s':[{'wildcard':'*.png'}]}", "{'s':'dir/x.png'}", 1},
        {"{'s':[{'wildcard':'*.png'}]}", "{'s':'x.png.gz'}", 0},
        {"{'s':[{'wildcard':'a*b*c'}]}", "{'s':'aXbYc'}", 1},
        {"{'s':[{'wildcard':'a*b*c'}]}", "{'s':'acb'}", 0},
        {"{'s':[{'wildcard':'ab*ab'}]}", "{'s':'ab'}", 0},
        {"{'s':[{'wildcard':'ab*ab'}]}", "{'s':'abab'}", 1},
        {"{'s':[{'wildcard':'ab*ab'}]}", "{'s':'aba'}", 0},
        {"{'s':[{'wildcard':'*a*a*'}]}", "{'s':'xaya'}", 1},
        {"{'s':[{'wildcard':'*a*a*'}]}", "{'s':'xay'}", 0},
        {"{'s':[{'contains':'ell'}]}", "{'s':'hello'}", 1},
        {"{'s':[{'contains':'ell'}]}", "{'s':'help'}", 0},
        {"{'s':[{'contains':''}]}", "{'s':'x'}", 1},
        {"{'s':[{'contains':'1'}]}", "{'s':1}", 0},
        {"{'s':[{'contains':'lo'}]}", "{'s':['ab','hello']}", 1},
    };
    RUN_ROWS(rows);
}

static void test_anything_but(void)
{
    static const match_row rows[] = {
        {"{'s':[{'anything-but':'x'}]}", "{'s':'y'}", 1},
        {"{'s':[{'anything-but':'x'}]}", "{'s':'x'}", 0},
        {"{'s':[{'anything-but':'x'}]}", "{'s':null}", 1},
        {"{'s':[{'anything-but':'x'}]}", "{}", 0},
        {"{'s':[{'anything-but':'x'}]}", "{'s':5}", 1},
        {"{'s':[{'anything-but':'x'}]}", "{'s':['x','y']}", 1},
        {"{'s':[{'anything-but':'x'}]}", "{'s':['x']}", 0},
        {"{'s':[{'anything-but':'x'}]}", "{'s':[]}", 0},
        {"{'s':[{'anything-but':'x'}]}", "{'s':{'t':'y'}}", 0},
        {"{'s':[{'anything-but':['a','b']}]}", "{'s':'c'}", 1},
        {"{'s':[{'anything-but':['a','b']}]}", "{'s':'b'}", 0},
        {"{'n':[{'anything-but':5}]}", "{'n':5}", 0},
        {"{'n':[{'anything-but':5}]}", "{'n':5.0}", 0},
        {"{'n':[{'anything-but':5}]}", "{'n':6}", 1},
        {"{'n':[{'anything-but':5}]}", "{'n':'5'}", 1},
        {"{'n':[{'anything-but':[1,2]}]}", "{'n':3}", 1},
        {"{'n':[{'anything-but':[1,2]}]}", "{'n':2}", 0},
        {"{'s':[{'anything-but':{'prefix':'us-'}}]}", "{'s':'us-east'}", 0},
        {"{'s':[{'anything-but':{'prefix':'us-'}}]}", "{'s':'eu-west'}", 1},
        {"{'s':[{'anything-but':{'prefix':'us-'}}]}", "{'s':null}", 1},
        {"{'s':[{'anything-but':{'prefix':'us-'}}]}", "{}", 0},
        {"{'s':[{'anything-but':{'prefix':['us-','eu-']}}]}", "{'s':'eu-west'}", 0},
        {"{'s':[{'anything-but':{'suffix':['.png','.jpg']}}]}", "{'s':'a.png'}", 0},
        {"{'s':[{'anything-but':{'suffix':['.png','.jpg']}}]}", "{'s':'a.gif'}", 1},
        {"{'s':[{'anything-but':{'equals-ignore-case':'Stopped'}}]}", "{'s':'STOPPED'}", 0},
        {"{'s':[{'anything-but':{'equals-ignore-case':'Stopped'}}]}", "{'s':'running'}", 1},
        {"{'s':[{'anything-but':{'equals-ignore-case':['a','B']}}]}", "{'s':'b'}", 0},
        {"{'s':[{'anything-but':{'wildcard':'*/lib/*'}}]}", "{'s':'/usr/lib/x'}", 0},
        {"{'s':[{'anything-but':{'wildcard':'*/lib/*'}}]}", "{'s':'/usr/bin'}", 1},
        {"{'s':[{'anything-but':{'contains':'err'}}]}", "{'s':'error'}", 0},
        {"{'s':[{'anything-but':{'contains':'err'}}]}", "{'s':'ok'}", 1},
        {"{'s':[{'anything-but':''}]}", "{'s':''}", 0},
        {"{'s':[{'anything-but':''}]}", "{'s':null}", 1},
    };
    RUN_ROWS(rows);
}

static void test_numeric(void)
{
    static const match_row rows[] = {
        {"{'n':[{'numeric':['=',5]}]}", "{'n':5}", 1},
        {"{'n':[{'numeric':['=',5]}]}", "{'n':5.0}", 1},
        {"{'n':[{'numeric':['=',5]}]}", "{'n':'5'}", 0},
        {"{'n':[{'numeric':['=',5]}]}", "{'n':6}", 0},
        {"{'n':[{'numeric':['<',5]}]}", "{'n':4.9}", 1},
        {"{'n':[{'numeric':['<',5]}]}", "{'n':5}", 0},
        {"{'n':[{'numeric':['<=',5]}]}", "{'n':5}", 1},
        {"{'n':[{'numeric':['<=',5]}]}", "{'n':5.0001}", 0},
        {"{'n':[{'numeric':['>',5]}]}", "{'n':5}", 0},
        {"{'n':[{'numeric':['>',5]}]}", "{'n':5.1}", 1},
        {"{'n':[{'numeric':['>=',5]}]}", "{'n':5}", 1},
        {"{'n':[{'numeric':['>=',5]}]}", "{'n':4}", 0},
        {"{'n':[{'numeric':['>',0,'<=',5]}]}", "{'n':0}", 0},
        {"{'n':[{'numeric':['>',0,'<=',5]}]}", "{'n':0.1}", 1},
        {"{'n':[{'numeric':['>',0,'<=',5]}]}", "{'n':5}", 1},
        {"{'n':[{'numeric':['>',0,'<=',5]}]}", "{'n':5.01}", 0},
        {"{'n':[{'numeric':['>=',0,'<',5]}]}", "{'n':0}", 1},
        {"{'n':[{'numeric':['>=',0,'<',5]}]}", "{'n':5}", 0},
        {"{'n':[{'numeric':['>=',0,'<',5]}]}", "{'n':-1}", 0},
        {"{'n':[{'numeric':['>',1e300]}]}", "{'n':1.5e300}", 1},
        {"{'n':[{'numeric':['<',-1e300]}]}", "{'n':-2e300}", 1},
        {"{'n':[{'numeric':['<',-1e300]}]}", "{'n':-1e299}", 0},
        {"{'n':[{'numeric':['>',1e-300,'<',1e-299]}]}", "{'n':5e-300}", 1},
        {"{'n':[{'numeric':['=',12345678901234567890]}]}", "{'n':12345678901234567890}", 1},
        {"{'n':[{'numeric':['>',5]}]}", "{'n':null}", 0},
        {"{'n':[{'numeric':['>',5]}]}", "{'n':true}", 0},
        {"{'n':[{'numeric':['>',5]}]}", "{'n':'10'}", 0},
        {"{'n':[{'numeric':['>',5]}]}", "{}", 0},
        {"{'n':[{'numeric':['>',5]}]}", "{'n':[1,7]}", 1},
        {"{'n':[{'numeric':['<',0]},{'numeric':['>',100]}]}", "{'n':150}", 1},
        {"{'n':[{'numeric':['<',0]},{'numeric':['>',100]}]}", "{'n':50}", 0},
    };
    RUN_ROWS(rows);
}

static void test_cidr(void)
{
    static const match_row rows[] = {
        {"{'ip':[{'cidr':'10.0.0.0/24'}]}", "{'ip':'10.0.0.5'}", 1},
        {"{'ip':[{'cidr':'10.0.0.0/24'}]}", "{'ip':'10.0.0.255'}", 1},
        {"{'ip':[{'cidr':'10.0.0.0/24'}]}", "{'ip':'10.0.1.5'}", 0},
        {"{'ip':[{'cidr':'10.0.0.0/24'}]}", "{'ip':'10.0.0.5/32'}", 0},
        {"{'ip':[{'cidr':'10.0.0.0/24'}]}", "{'ip':'x'}", 0},
        {"{'ip':[{'cidr':'10.0.0.0/24'}]}", "{'ip':167772165}", 0},
        {"{'ip':[{'cidr':'10.0.0.0/24'}]}", "{'ip':'::ffff:10.0.0.5'}", 0},
        {"{'ip':[{'cidr':'10.0.0.0/24'}]}", "{'ip':' 10.0.0.5'}", 0},
        {"{'ip':[{'cidr':'10.0.0.1/24'}]}", "{'ip':'10.0.0.200'}", 1},
        {"{'ip':[{'cidr':'10.128.0.0/9'}]}", "{'ip':'10.200.0.1'}", 1},
        {"{'ip':[{'cidr':'10.128.0.0/9'}]}", "{'ip':'10.100.0.1'}", 0},
        {"{'ip':[{'cidr':'0.0.0.0/0'}]}", "{'ip':'1.2.3.4'}", 1},
        {"{'ip':[{'cidr':'0.0.0.0/0'}]}", "{'ip':'::1'}", 0},
        {"{'ip':[{'cidr':'10.1.2.3/32'}]}", "{'ip':'10.1.2.3'}", 1},
        {"{'ip':[{'cidr':'10.1.2.3/32'}]}", "{'ip':'10.1.2.4'}", 0},
        {"{'ip':[{'cidr':'2001:db8::/32'}]}", "{'ip':'2001:db8:1::1'}", 1},
        {"{'ip':[{'cidr':'2001:db8::/32'}]}", "{'ip':'2001:DB8::1'}", 1},
        {"{'ip':[{'cidr':'2001:db8::/32'}]}", "{'ip':'2001:db9::1'}", 0},
        {"{'ip':[{'cidr':'2001:db8::/32'}]}", "{'ip':'10.0.0.1'}", 0},
        {"{'ip':[{'cidr':'::1/128'}]}", "{'ip':'::1'}", 1},
        {"{'ip':[{'cidr':'::1/128'}]}", "{'ip':'::2'}", 0},
    };
    RUN_ROWS(rows);
}

static void test_exists(void)
{
    static const match_row rows[] = {
        {"{'a':[{'exists':true}]}", "{'a':'x'}", 1},
        {"{'a':[{'exists':true}]}", "{'a':null}", 1},
        {"{'a':[{'exists':true}]}", "{'a':0}", 1},
        {"{'a':[{'exists':true}]}", "{}", 0},
        {"{'a':[{'exists':true}]}", "{'a':[]}", 0},
        {"{'a':[{'exists':true}]}", "{'a':{}}", 0},
        {"{'a':[{'exists':true}]}", "{'a':{'b':1}}", 0},
        {"{'a':[{'exists':true}]}", "{'a':[1]}", 1},
        {"{'a':[{'exists':true}]}", "{'a':[null]}", 1},
        {"{'a':[{'exists':false}]}", "{}", 1},
        {"{'a':[{'exists':false}]}", "{'b':1}", 1},
        {"{'a':[{'exists':false}]}", "{'a':'x'}", 0},
        {"{'a':[{'exists':false}]}", "{'a':null}", 0},
        {"{'a':[{'exists':false}]}", "{'a':[]}", 1},
        /* event-ruler: a path that leads to an object is not a leaf, so it "does not exist" */
        {"{'a':[{'exists':false}]}", "{'a':{'b':1}}", 1},
        {"{'a':{'b':[{'exists':false}]}}", "{'a':{'b':{'c':1}}}", 1},
        {"{'a':{'b':[{'exists':false}]}}", "{'a':{'b':1}}", 0},
        {"{'a':{'b':[{'exists':false}]}}", "{'a':[{'c':1},{'b':1}]}", 0},
        /* absence is event-wide: another element having the field is enough to fail */
        {"{'a':{'b':[1],'c':[{'exists':false}]}}", "{'a':[{'b':1},{'c':2}]}", 0},
        {"{'a':{'b':[1],'c':[{'exists':false}]}}", "{'a':[{'b':1},{'d':2}]}", 1},
        {"{'a':['x',{'exists':false}]}", "{}", 1},
        {"{'a':['x',{'exists':false}]}", "{'a':'x'}", 1},
        {"{'a':['x',{'exists':false}]}", "{'a':'y'}", 0},
        {"{'a':[{'exists':true},{'exists':false}]}", "{'a':'y'}", 1},
        {"{'a':[{'exists':true},{'exists':false}]}", "{}", 1},
        {"{'a':[{'exists':false}],'b':[1]}", "{'b':1}", 1},
        {"{'a':[{'exists':false}],'b':[1]}", "{'b':2}", 0},
    };
    RUN_ROWS(rows);
}

static void test_mixed(void)
{
    static const match_row rows[] = {
        {"{'v':[{'prefix':'a'},{'numeric':['>',10]},'zz',null]}", "{'v':'abc'}", 1},
        {"{'v':[{'prefix':'a'},{'numeric':['>',10]},'zz',null]}", "{'v':11}", 1},
        {"{'v':[{'prefix':'a'},{'numeric':['>',10]},'zz',null]}", "{'v':'zz'}", 1},
        {"{'v':[{'prefix':'a'},{'numeric':['>',10]},'zz',null]}", "{'v':null}", 1},
        {"{'v':[{'prefix':'a'},{'numeric':['>',10]},'zz',null]}", "{'v':5}", 0},
        {"{'v':[{'prefix':'a'},{'numeric':['>',10]},'zz',null]}", "{'v':'b'}", 0},
        {"{'v':[{'cidr':'10.0.0.0/8'},{'anything-but':{'prefix':'1'}}]}", "{'v':'10.1.1.1'}", 1},
        {"{'v':[{'cidr':'10.0.0.0/8'},{'anything-but':{'prefix':'1'}}]}", "{'v':'11.1.1.1'}", 0},
        {"{'v':[{'cidr':'10.0.0.0/8'},{'anything-but':{'prefix':'1'}}]}", "{'v':'x'}", 1},
        {"{'v':[{'wildcard':'a*'},{'equals-ignore-case':'B'},{'suffix':'z'}]}", "{'v':'b'}", 1},
        {"{'v':[{'wildcard':'a*'},{'equals-ignore-case':'B'},{'suffix':'z'}]}", "{'v':'c'}", 0},
    };
    RUN_ROWS(rows);
}

static void test_or(void)
{
    static const match_row rows[] = {
        {"{'$or':[{'a':[1]},{'b':[2]}]}", "{'a':1}", 1},
        {"{'$or':[{'a':[1]},{'b':[2]}]}", "{'b':2}", 1},
        {"{'$or':[{'a':[1]},{'b':[2]}]}", "{'a':2,'b':1}", 0},
        {"{'s':['x'],'$or':[{'a':[1]},{'b':[2]}]}", "{'s':'x','b':2}", 1},
        {"{'s':['x'],'$or':[{'a':[1]},{'b':[2]}]}", "{'s':'y','b':2}", 0},
        {"{'d':{'$or':[{'a':[1]},{'b':[2]}]}}", "{'d':{'b':2}}", 1},
        {"{'d':{'$or':[{'a':[1]},{'b':[2]}]}}", "{'b':2}", 0},
        {"{'$or':[{'a':[1]},{'$or':[{'b':[2]},{'c':[3]}]}]}", "{'c':3}", 1},
        {"{'$or':[{'a':[1]},{'$or':[{'b':[2]},{'c':[3]}]}]}", "{'d':3}", 0},
        {"{'$or':[{'a':[1]},{'b':[1]}],'x':{'$or':[{'c':[1]},{'d':[1]}]}}", "{'a':1,'x':{'d':1}}",
         1},
        {"{'$or':[{'a':[1]},{'b':[1]}],'x':{'$or':[{'c':[1]},{'d':[1]}]}}", "{'a':1}", 0},
        {"{'$or':[{'a':[1],'b':[2]},{'c':[3]}]}", "{'a':1}", 0},
        {"{'$or':[{'a':[1],'b':[2]},{'c':[3]}]}", "{'a':1,'b':2}", 1},
        {"{'$or':[{'a':{'b':[1],'c':[4]}},{'z':[1]}]}", "{'a':[{'b':1,'c':2},{'b':3,'c':4}]}", 0},
        {"{'$or':[{'a':{'b':[1],'c':[4]}},{'z':[1]}]}", "{'a':[{'b':1,'c':2},{'b':3,'c':4}],'z':1}",
         1},
        {"{'$or':[{'a':[{'exists':false}]},{'b':[{'numeric':['>',1]}]}]}", "{'a':1,'b':2}", 1},
        {"{'$or':[{'a':[{'exists':false}]},{'b':[{'numeric':['>',1]}]}]}", "{'a':1,'b':1}", 0},
    };
    RUN_ROWS(rows);
}

static void test_cloudevent(void)
{
    static const match_row rows[] = {
        {"{'type':['crm.customer.changed'],'orgid':['org-1'],'data':{'level':['vip']}}",
         "{'id':'e1','source':'/connectors/crm','specversion':'1.0',"
         "'type':'crm.customer.changed','subject':'c-9','time':'2024-01-01T00:00:00Z',"
         "'datacontenttype':'application/json','orgid':'org-1','connector':'crm',"
         "'data':{'level':'vip','tags':['a','b']}}",
         1},
        {"{'type':['crm.customer.changed'],'orgid':['org-1'],'data':{'level':['vip']}}",
         "{'id':'e1','type':'crm.customer.changed','orgid':'org-2','data':{'level':'vip'}}", 0},
        {"{'source':[{'prefix':'/connectors/'}],'data':{'tags':['b']}}",
         "{'source':'/connectors/crm','data':{'tags':['a','b']}}", 1},
    };
    RUN_ROWS(rows);
}

static void test_text_api(void)
{
    evb_pattern *p = NULL;
    evb_error err;
    CU_ASSERT_EQUAL_FATAL(evb_pattern_compile("{\"a\":[1]}", 9, 0, &p, &err), EVB_OK);
    CU_ASSERT_EQUAL(evb_pattern_branches(p), 1);
    int m = -1;
    CU_ASSERT_EQUAL(evb_pattern_match_text(p, "{\"a\":", 5, &m, &err), EVB_ERR_PARSE);
    CU_ASSERT_EQUAL(evb_pattern_match_text(p, "[1]", 3, &m, &err), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_pattern_match_text(p, "{\"a\":1,\"a\":1}", 13, &m, &err), EVB_ERR_PARSE);
    CU_ASSERT_EQUAL(evb_pattern_match_text(p, "{\"a\":1}", 7, &m, &err), EVB_OK);
    CU_ASSERT_EQUAL(m, 1);
    /* a json_t built by the caller with integers works as well */
    json_t *ev = json_pack("{s:i}", "a", 1);
    CU_ASSERT_EQUAL(evb_pattern_match(p, ev), 1);
    json_decref(ev);
    CU_ASSERT_EQUAL(evb_pattern_match(p, NULL), 0);
    json_t *arr = json_array();
    CU_ASSERT_EQUAL(evb_pattern_match(p, arr), 0);
    json_decref(arr);
    CU_ASSERT_EQUAL(evb_pattern_match(NULL, NULL), 0);
    evb_pattern_free(p);
    evb_pattern_free(NULL);
    /* the pattern text need not be NUL-terminated */
    CU_ASSERT_EQUAL_FATAL(evb_pattern_compile("{\"a\":[2]}xyz", 9, 0, &p, &err), EVB_OK);
    CU_ASSERT_EQUAL(evb_pattern_match_text(p, "{\"a\":2}", 7, &m, &err), EVB_OK);
    CU_ASSERT_EQUAL(m, 1);
    evb_pattern_free(p);
}

int main(void)
{
    static const evb_unit_case cases[] = {
        {"basics", test_basics},
        {"exact values", test_exact_values},
        {"arrays", test_arrays},
        {"prefix and suffix", test_prefix_suffix},
        {"equals-ignore-case", test_ignore_case},
        {"wildcard and contains", test_wildcard_contains},
        {"anything-but", test_anything_but},
        {"numeric", test_numeric},
        {"cidr", test_cidr},
        {"exists", test_exists},
        {"mixed kinds", test_mixed},
        {"$or", test_or},
        {"cloudevent shape", test_cloudevent},
        {"text api", test_text_api},
        {NULL, NULL},
    };
    return evb_unit_run("routing_pattern", cases);
}
