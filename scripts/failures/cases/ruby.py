"""Ruby: gem and bundler against closed or empty sources, minitest and
RSpec failures, Net::HTTP errors."""
from lib import case, deb, cmdver

GEM = lambda: f"RubyGems {cmdver('gem --version')}; ruby {deb('ruby3.1')}"
RUBY = lambda: f"ruby {deb('ruby3.1')}"


@case("network-gem-refused-01", "network", "gem",
      "gem install with its only source set to a closed loopback port.",
      GEM, r"ECONNREFUSED|Connection refused")
def _(ctx):
    ctx.closed(18500)
    return ctx.run("gem install --clear-sources --source http://127.0.0.1:18500/ corpus-client -v 2.1.0")


@case("package-gem-notfound-01", "package", "gem",
      "gem install --local of a gem that is in no local repository or cache.",
      GEM, r"Could not find a valid gem")
def _(ctx):
    d = ctx.dir("gem-local")
    return ctx.run("gem install --local corpus-client", cwd=d)


@case("credential-gem-403-01", "credential", "gem",
      "gem install from a loopback private gem source that answers 403 Forbidden.",
      GEM, r"403|Forbidden")
def _(ctx):
    ctx.stub(18501, "--status", "403")
    return ctx.run("gem install --clear-sources --source http://127.0.0.1:18501/ corpus-private")


@case("package-bundle-local-01", "package", "bundle",
      "bundle install --local for a Gemfile naming a gem that is not installed.",
      lambda: f"Bundler {cmdver('bundle --version')}; ruby {deb('ruby3.1')}", r"Could not find gem")
def _(ctx):
    d = ctx.dir("bundle-local")
    ctx.write(f"{d}/Gemfile", "source 'https://rubygems.org'\n\ngem 'sinatra-corpus', '~> 3.0'\n")
    return ctx.run("bundle install --local", cwd=d, env={"HOME": d})


@case("test-ruby-minitest-01", "test", "ruby",
      "ruby running a minitest file for an invoice class where two of four tests fail.",
      lambda: f"minitest (ruby {deb('ruby3.1')})", r"failures")
def _(ctx):
    d = ctx.dir("minitest")
    ctx.write(f"{d}/invoice.rb", "class Invoice\n  def initialize(lines) = @lines = lines\n"
              "  def total = @lines.sum { |l| l[:qty] * l[:price] }\n  def tax(rate) = (total * rate).floor\nend\n")
    ctx.write(f"{d}/test_invoice.rb", "require 'minitest/autorun'\nrequire_relative 'invoice'\n\n"
              "class TestInvoice < Minitest::Test\n  def setup\n    @inv = Invoice.new([{ qty: 2, price: 5 }, { qty: 1, price: 7 }])\n  end\n\n"
              "  def test_total\n    assert_equal 17, @inv.total\n  end\n\n  def test_tax_rounds\n    assert_equal 4, @inv.tax(0.21)\n  end\n\n"
              "  def test_empty\n    assert_equal 0, Invoice.new([]).total\n  end\n\n"
              "  def test_discount\n    assert_equal 15, @inv.total - 3\n  end\nend\n")
    return ctx.run("ruby -Ilib test_invoice.rb --seed 4242", cwd=d)


@case("test-rspec-01", "test", "rspec",
      "rspec on a slug helper spec where one example of three fails.",
      lambda: "RSpec " + cmdver("rspec --version", r"rspec-core (\d+\.\d+\.\d+)") + f"; ruby {deb('ruby3.1')}", r"examples?, \d+ failures?")
def _(ctx):
    d = ctx.dir("rspec")
    ctx.write(f"{d}/lib/slug.rb", "module Slug\n  def self.call(s) = s.downcase.strip.gsub(/\\s+/, '-')\nend\n")
    ctx.write(f"{d}/spec/slug_spec.rb", "require_relative '../lib/slug'\n\nRSpec.describe Slug do\n"
              "  it 'lowercases' do\n    expect(Slug.call('Hello')).to eq('hello')\n  end\n\n"
              "  it 'joins words with dashes' do\n    expect(Slug.call('a b  c')).to eq('a-b-c')\n  end\n\n"
              "  it 'drops punctuation' do\n    expect(Slug.call('Hi, there!')).to eq('hi-there')\n  end\nend\n")
    return ctx.run("rspec --no-color --order defined", cwd=d)


@case("network-ruby-refused-01", "network", "ruby",
      "a Ruby script posting a build status with Net::HTTP to a closed loopback port.",
      RUBY, r"ECONNREFUSED|Connection refused")
def _(ctx):
    ctx.closed(18502)
    d = ctx.dir("ruby-net")
    f = ctx.write(f"{d}/notify.rb", "require 'net/http'\nuri = URI('http://127.0.0.1:18502/api/status')\n"
                  "res = Net::HTTP.post(uri, '{\"state\":\"success\"}', 'Content-Type' => 'application/json')\nputs res.code\n")
    return ctx.run(f"ruby {f}")


@case("timeout-ruby-readtimeout-01", "timeout", "ruby",
      "a Ruby script using Net::HTTP with read_timeout 2 against a loopback listener that never answers.",
      RUBY, r"ReadTimeout|timed out|execution expired")
def _(ctx):
    ctx.stub(18503, "--silent")
    d = ctx.dir("ruby-net")
    f = ctx.write(f"{d}/fetch.rb", "require 'net/http'\nhttp = Net::HTTP.new('127.0.0.1', 18503)\n"
                  "http.open_timeout = 2\nhttp.read_timeout = 2\nputs http.get('/health').body\n")
    return ctx.run(f"ruby {f}")
