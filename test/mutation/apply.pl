#!/usr/bin/perl
# test/mutation/apply.pl - read test/mutation/mutations.txt and, for one
# mutation, check or apply it.
#
#   perl apply.pl MUTATIONS list               id<TAB>file<TAB>what<TAB>equiv, one a line
#   perl apply.pl MUTATIONS check ID ROOT      exit 0 iff the pattern matches exactly once
#   perl apply.pl MUTATIONS apply ID ROOT      rewrite ROOT/file with the mutation
#
# A block of the list is a few "key: value" lines (id, file, find or
# findre, repl, what, equiv); blocks are separated by blank lines; "#" lines
# are comments.  find is literal text, findre a Perl regular expression;
# either must match exactly once in the file (else the mutation is reported
# as not applicable: it never counts as killed).  In find and repl, \n and
# \t stand for a newline and a tab.
use strict;
use warnings;

my ($list, $cmd, $want, $root) = @ARGV;
die "usage: apply.pl MUTATIONS list|check ID ROOT|apply ID ROOT\n"
  unless defined $cmd && ($cmd eq 'list' || (defined $root && defined $want));

open(my $fh, '<', $list) or die "cannot read $list: $!\n";
my @muts;
my $cur = {};
while (my $line = <$fh>) {
	chomp $line;
	next if $line =~ /^#/;
	if ($line =~ /^\s*$/) {
		push @muts, $cur if %$cur;
		$cur = {};
		next;
	}
	$line =~ /^(id|file|find|findre|repl|what|equiv):\s?(.*)$/
	  or die "$list:$.: cannot parse: $line\n";
	die "$list:$.: $1 given twice\n" if exists $cur->{$1};
	$cur->{$1} = $2;
}
push @muts, $cur if %$cur;
close $fh;

my %seen;
for my $m (@muts) {
	for my $k (qw(id file repl what)) {
		die "$list: a mutation ($m->{id}) has no $k\n" unless defined $m->{$k};
	}
	die "$list: mutation $m->{id} needs exactly one of find, findre\n"
	  unless defined($m->{find}) != defined($m->{findre});
	die "$list: id $m->{id} given twice\n" if $seen{$m->{id}}++;
}

if ($cmd eq 'list') {
	for my $m (@muts) {
		print join("\t", $m->{id}, $m->{file}, $m->{what}, $m->{equiv} // ''), "\n";
	}
	exit 0;
}

my ($m) = grep { $_->{id} eq $want } @muts;
die "no mutation $want in $list\n" unless $m;
my $path = "$root/$m->{file}";
open(my $in, '<', $path) or do { print "file $m->{file} does not exist\n"; exit 1 };
local $/;
my $text = <$in>;
close $in;

sub unescape { my $t = shift; $t =~ s/\\n/\n/g; $t =~ s/\\t/\t/g; return $t }
my $re = defined $m->{find} ? eval { my $f = unescape($m->{find}); qr/\Q$f\E/ }
                            : eval { qr/$m->{findre}/m };
if (!$re) { print "bad regular expression: $@"; exit 1 }
my @at;
while ($text =~ /$re/g) {
	push @at, [$-[0], $+[0]];
	pos($text) = $-[0] + 1 if $+[0] == $-[0];
}
if (@at != 1) {
	printf "pattern matches %d times in %s (must match once)\n", scalar(@at), $m->{file};
	exit 1;
}
exit 0 if $cmd eq 'check';

my $repl = unescape($m->{repl});
my ($s, $e) = @{$at[0]};
substr($text, $s, $e - $s) = $repl;
open(my $out, '>', $path) or die "cannot write $path: $!\n";
print $out $text;
close $out;
exit 0;
